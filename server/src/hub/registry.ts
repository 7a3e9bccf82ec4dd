import type { Provider } from './provider.ts';

/**
 * Which providers serve which function names. Several providers may serve one name; a call
 * goes to the one with the fewest calls in flight, ties broken round-robin so idle providers
 * share sequential load evenly.
 */
export class Registry {
  private readonly functions = new Map<string, Provider[]>();
  private turn = 0;

  /** Returns whether `provider` was newly added under `name`. */
  add(name: string, provider: Provider): boolean {
    const providers = this.functions.get(name);
    if (providers === undefined) this.functions.set(name, [provider]);
    else if (providers.includes(provider)) return false;
    else providers.push(provider);
    return true;
  }

  /** Returns whether `provider` was registered under `name`. */
  remove(name: string, provider: Provider): boolean {
    const providers = this.functions.get(name);
    if (providers === undefined) return false;
    const index = providers.indexOf(provider);
    if (index === -1) return false;
    providers.splice(index, 1);
    if (providers.length === 0) this.functions.delete(name);
    return true;
  }

  pick(name: string): Provider | undefined {
    const providers = this.functions.get(name);
    if (providers === undefined) return undefined;
    const count = providers.length;
    if (count === 1) return providers[0];
    const start = this.turn++ % count;
    if (this.turn > 0x3fffffff) this.turn = 0;
    let best = providers[start]!;
    for (let step = 1; step < count; step++) {
      const candidate = providers[(start + step) % count]!;
      if (candidate.inFlight < best.inFlight) best = candidate;
    }
    return best;
  }

  has(name: string): boolean {
    return this.functions.has(name);
  }
}
