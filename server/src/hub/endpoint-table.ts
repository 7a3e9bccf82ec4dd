import FindMyWay from 'find-my-way';
import { SwitchboardError, endpointShape, type HttpMethod } from '@switchboard/shared';
import type { Provider } from './provider.ts';
import { Registry } from './registry.ts';

interface Entry {
  readonly pattern: string;
  readonly shape: string;
  /** Live providers per method. */
  readonly live: Map<HttpMethod, number>;
  /** Every method ever declared for the pattern (to tell 503 from 405 once providers left). */
  readonly declared: Set<HttpMethod>;
}

/** How the door should treat a request, decided before any frame is sent. */
export type Resolution =
  | { kind: 'not-found' }
  | { kind: 'method-not-allowed'; allow: string[] }
  | { kind: 'no-provider' }
  | { kind: 'options'; allow: string[] }
  | { kind: 'ok'; pattern: string; params: Record<string, string>; provider: Provider };

/**
 * The live table of HTTP endpoints. Fastify cannot add routes after start, so matching uses
 * find-my-way standalone; providers per method and pattern live in a Registry (least in flight).
 * A pattern stays matchable after its last provider leaves, so the door can answer 503 instead
 * of 404 while the uplink restarts.
 */
export class EndpointTable {
  private readonly router = FindMyWay({
    caseSensitive: true,
    ignoreTrailingSlash: false,
    maxParamLength: 500,
  });
  private readonly byShape = new Map<string, Entry>();
  private readonly providers = new Registry();

  /** Refuses (SB_ERR_ENDPOINT_CONFLICT) a pattern whose shape is live under another pattern. */
  check(pattern: string): void {
    const shape = endpointShape(pattern);
    const existing = this.byShape.get(shape);
    if (existing !== undefined && existing.pattern !== pattern && existing.live.size > 0) {
      throw new SwitchboardError(
        'SB_ERR_ENDPOINT_CONFLICT',
        `Endpoint ${pattern} conflicts with the live endpoint ${existing.pattern}`,
      );
    }
  }

  add(pattern: string, methods: readonly HttpMethod[], provider: Provider): void {
    this.check(pattern);
    const shape = endpointShape(pattern);
    let entry = this.byShape.get(shape);
    if (entry !== undefined && entry.pattern !== pattern) {
      this.router.off('GET', entry.pattern);
      this.byShape.delete(shape);
      entry = undefined;
    }
    if (entry === undefined) {
      entry = { pattern, shape, live: new Map(), declared: new Set() };
      this.byShape.set(shape, entry);
      this.router.on('GET', pattern, () => undefined, entry);
    }
    for (const method of methods) {
      if (!this.providers.add(`${method} ${pattern}`, provider)) continue;
      entry.live.set(method, (entry.live.get(method) ?? 0) + 1);
      entry.declared.add(method);
    }
  }

  remove(pattern: string, methods: readonly HttpMethod[], provider: Provider): void {
    const entry = this.byShape.get(endpointShape(pattern));
    if (entry === undefined || entry.pattern !== pattern) return;
    for (const method of methods) {
      if (!this.providers.remove(`${method} ${pattern}`, provider)) continue;
      const count = (entry.live.get(method) ?? 1) - 1;
      if (count === 0) entry.live.delete(method);
      else entry.live.set(method, count);
    }
  }

  resolve(method: string, path: string): Resolution {
    const found = this.router.find('GET', path);
    if (found === null) return { kind: 'not-found' };
    const entry = found.store as Entry;
    if (entry.live.size === 0) return { kind: 'no-provider' };
    const allow = allowed(entry);
    if (method === 'OPTIONS') return { kind: 'options', allow };
    const effective = (method === 'HEAD' ? 'GET' : method) as HttpMethod;
    if (!entry.live.has(effective)) {
      return entry.declared.has(effective)
        ? { kind: 'no-provider' }
        : { kind: 'method-not-allowed', allow };
    }
    const provider = this.providers.pick(`${effective} ${entry.pattern}`);
    if (provider === undefined) return { kind: 'no-provider' };
    return {
      kind: 'ok',
      pattern: entry.pattern,
      params: { ...found.params } as Record<string, string>,
      provider,
    };
  }

  /** Live endpoints with their methods. */
  list(): Array<{ path: string; methods: HttpMethod[] }> {
    return [...this.byShape.values()]
      .filter((entry) => entry.live.size > 0)
      .map((entry) => ({ path: entry.pattern, methods: [...entry.live.keys()] }));
  }
}

function allowed(entry: Entry): string[] {
  const methods: string[] = [...entry.live.keys()];
  if (entry.live.has('GET')) methods.push('HEAD');
  methods.push('OPTIONS');
  return methods;
}
