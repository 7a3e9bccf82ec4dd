import {
  sameAccess,
  sameSignature,
  type FunctionAccess,
  type FunctionSignature,
} from '@switchboard/shared';
import type { Provider } from '../hub/provider.ts';
import { ArgsValidator } from '../schema/args-validator.ts';
import { SchemaCompiler } from '../schema/schema-compiler.ts';

/**
 * Which providers serve which function names. Several providers may serve one name; a call
 * goes to the one with the fewest calls in flight, ties broken round-robin so idle providers
 * share sequential load evenly. Each name carries one `M` (a function's access rules) that all
 * its providers agree on.
 */
export class Registry<M = undefined> {
  private readonly functions = new Map<string, Provider[]>();
  private readonly metas = new Map<string, M>();
  private turn = 0;
  private changes = 0;

  /** Grows with every registration and withdrawal. */
  get version(): number {
    return this.changes;
  }

  constructor(private readonly sameMeta: (a: M, b: M) => boolean = () => true) {}

  /** Whether a provider other than `provider` serves `name` with a different `meta`. */
  conflicts(name: string, meta: M, provider: Provider): boolean {
    const current = this.metas.get(name);
    if (current === undefined || this.sameMeta(current, meta)) return false;
    return this.servedByOthers(name, provider);
  }

  servedByOthers(name: string, provider: Provider): boolean {
    return (this.functions.get(name) ?? []).some((other) => other !== provider);
  }

  /** Returns whether `provider` was newly added under `name`; `meta` replaces the name's. */
  add(name: string, provider: Provider, meta: M): boolean {
    this.changes++;
    this.metas.set(name, meta);
    const providers = this.functions.get(name);
    if (providers === undefined) this.functions.set(name, [provider]);
    else if (providers.includes(provider)) return false;
    else providers.push(provider);
    return true;
  }

  metaOf(name: string): M | undefined {
    return this.metas.get(name);
  }

  /** Returns whether `provider` was registered under `name`. */
  remove(name: string, provider: Provider): boolean {
    const providers = this.functions.get(name);
    if (providers === undefined) return false;
    const index = providers.indexOf(provider);
    if (index === -1) return false;
    this.changes++;
    providers.splice(index, 1);
    if (providers.length === 0) {
      this.functions.delete(name);
      this.metas.delete(name);
    }
    return true;
  }

  /**
   * The provider for the next call to `name`: the accepting one with the fewest calls in flight
   * (an unresponsive uplink is skipped until it answers again), this process's own first: another
   * server of the cluster only when none of them accepts, and never when `localOnly`. Undefined
   * when none accepts. `exclude`: providers already tried for this call.
   */
  pick(name: string, localOnly = false, exclude?: ReadonlySet<Provider>): Provider | undefined {
    const providers = this.functions.get(name);
    if (providers === undefined) return undefined;
    const count = providers.length;
    if (count === 1) {
      const only = providers[0]!;
      return only.accepting && (only.node === undefined || !localOnly) && !exclude?.has(only)
        ? only
        : undefined;
    }
    const start = this.turn++ % count;
    if (this.turn > 0x3fffffff) this.turn = 0;
    let best: Provider | undefined;
    let bestRemote: Provider | undefined;
    for (let step = 0; step < count; step++) {
      const candidate = providers[(start + step) % count]!;
      if (!candidate.accepting || exclude?.has(candidate) === true) continue;
      if (candidate.node === undefined) {
        if (best === undefined || candidate.inFlight < best.inFlight) best = candidate;
      } else if (bestRemote === undefined || candidate.inFlight < bestRemote.inFlight)
        bestRemote = candidate;
    }
    return best ?? (localOnly ? undefined : bestRemote);
  }

  has(name: string): boolean {
    return this.functions.has(name);
  }

  /** The providers serving `name` (a copy), for admin views; empty if none. */
  providersOf(name: string): Provider[] {
    return [...(this.functions.get(name) ?? [])];
  }

  /** Every served name with its meta, in registration order, for admin views. */
  names(): Array<{ name: string; meta: M }> {
    return [...this.functions.keys()].map((name) => ({ name, meta: this.metas.get(name)! }));
  }
}

/**
 * What every provider of a function name agrees on: its access rules and its schemas, with the
 * `args` schemas compiled once (at registration) for the dispatcher.
 */
export interface FunctionMeta extends FunctionAccess {
  /** The schemas as registered; absent when the function declares none. */
  readonly signature?: FunctionSignature;
  /** The compiled `args` check; absent when arguments are not checked. */
  readonly args?: ArgsValidator;
}

/**
 * The registry of functions: each name with its access rules and schemas. Providers of a name
 * must agree on both (SB_ERR_FUNCTION_CONFLICT otherwise, see checkAccess).
 */
export class FunctionRegistry extends Registry<FunctionMeta> {
  /** Compiled schemas shared by every provider and reconnect (created on the first schema). */
  private readonly compiler = new SchemaCompiler();

  constructor() {
    super((a, b) => sameAccess(a, b) && sameSignature(a.signature, b.signature));
  }

  /** The meta of a function with `access` and `signature`; throws SB_ERR_SCHEMA_INVALID. */
  meta(access: FunctionAccess, signature: FunctionSignature | undefined): FunctionMeta {
    if (signature === undefined) return access;
    const args = ArgsValidator.compile(signature, this.compiler);
    return {
      allowClients: access.allowClients,
      requireUser: access.requireUser,
      signature,
      ...(args === undefined ? {} : { args }),
    };
  }
}

export function functionRegistry(): FunctionRegistry {
  return new FunctionRegistry();
}
