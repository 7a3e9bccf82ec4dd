import FindMyWay from 'find-my-way';
import {
  HTTP_METHODS,
  SwitchboardError,
  endpointShape,
  samePolicy,
  type EndpointPolicy,
  type HttpMethod,
} from '@switchboard/shared';
import type { Provider } from './provider.ts';
import { Registry } from './registry.ts';

interface Entry {
  readonly pattern: string;
  /** Registry key per method, built once: `GET /users/:id`. */
  readonly keys: ReadonlyMap<HttpMethod, string>;
  /** Every method ever declared for the pattern (to tell 503 from 405 once providers left). */
  readonly declared: Set<HttpMethod>;
  /** What the door enforces; every live provider registered this same policy. */
  policy: EndpointPolicy | undefined;
}

/** How the door should treat a request, decided before any frame is sent. */
export type Resolution =
  | { kind: 'not-found' }
  | { kind: 'method-not-allowed'; allow: string[] }
  | { kind: 'no-provider' }
  | { kind: 'options'; allow: string[]; policy: EndpointPolicy | undefined }
  | {
      kind: 'ok';
      pattern: string;
      params: Record<string, string>;
      provider: Provider;
      policy: EndpointPolicy | undefined;
    };

/**
 * The live table of HTTP endpoints. Fastify cannot add routes after start, so matching uses
 * find-my-way standalone; providers per method and pattern live in a Registry (least in flight),
 * which is also the one record of which methods are live. A pattern stays matchable after its
 * last provider leaves, so the door can answer 503 instead of 404 while the uplink restarts.
 */
export class EndpointTable {
  private readonly router = FindMyWay({
    caseSensitive: true,
    ignoreTrailingSlash: false,
    maxParamLength: 500,
  });
  private readonly byShape = new Map<string, Entry>();
  private readonly providers = new Registry();

  /**
   * Refuses (SB_ERR_ENDPOINT_CONFLICT) a pattern whose shape is live under another pattern, or
   * live under this pattern with another policy from a provider other than `provider`.
   */
  check(pattern: string, policy: EndpointPolicy | undefined, provider: Provider): void {
    const existing = this.byShape.get(endpointShape(pattern));
    if (existing === undefined || !this.isLive(existing)) return;
    if (existing.pattern !== pattern) {
      throw new SwitchboardError(
        'SB_ERR_ENDPOINT_CONFLICT',
        `Endpoint ${pattern} conflicts with the live endpoint ${existing.pattern}`,
      );
    }
    if (!samePolicy(existing.policy, policy) && this.servedByOthers(existing, provider)) {
      throw new SwitchboardError(
        'SB_ERR_ENDPOINT_CONFLICT',
        `Endpoint ${pattern} is live with different options (auth, CORS, sessions, rate limit); every provider of a path must register the same options`,
      );
    }
  }

  add(
    pattern: string,
    registration: { methods: readonly HttpMethod[]; policy?: EndpointPolicy },
    provider: Provider,
  ): void {
    const { methods, policy } = registration;
    this.check(pattern, policy, provider);
    const shape = endpointShape(pattern);
    let entry = this.byShape.get(shape);
    if (entry !== undefined && entry.pattern !== pattern) {
      this.router.off('GET', entry.pattern); // a dead pattern of the same shape gives way
      entry = undefined;
    }
    if (entry === undefined) {
      const keys = new Map(HTTP_METHODS.map((method) => [method, `${method} ${pattern}`]));
      entry = { pattern, keys, declared: new Set(), policy };
      this.byShape.set(shape, entry);
      this.router.on('GET', pattern, () => undefined, entry);
    }
    entry.policy = policy;
    for (const method of methods) {
      this.providers.add(entry.keys.get(method)!, provider, undefined);
      entry.declared.add(method);
    }
  }

  remove(pattern: string, methods: readonly HttpMethod[], provider: Provider): void {
    const entry = this.byShape.get(endpointShape(pattern));
    if (entry === undefined || entry.pattern !== pattern) return;
    for (const method of methods) this.providers.remove(entry.keys.get(method)!, provider);
  }

  resolve(method: string, path: string): Resolution {
    const found = this.router.find('GET', path);
    if (found === null) return { kind: 'not-found' };
    const entry = found.store as Entry;
    const effective = (method === 'HEAD' ? 'GET' : method) as HttpMethod;
    const key = entry.keys.get(effective);
    const provider = key === undefined ? undefined : this.providers.pick(key);
    if (provider !== undefined) {
      const params = { ...found.params } as Record<string, string>;
      return { kind: 'ok', pattern: entry.pattern, params, provider, policy: entry.policy };
    }
    // The rare paths: work out why there is no provider.
    const live = this.liveMethods(entry);
    if (live.length === 0) return { kind: 'no-provider' };
    const allow = [...live, ...(live.includes('GET') ? ['HEAD'] : []), 'OPTIONS'];
    if (method === 'OPTIONS') return { kind: 'options', allow, policy: entry.policy };
    return entry.declared.has(effective)
      ? { kind: 'no-provider' }
      : { kind: 'method-not-allowed', allow };
  }

  private liveMethods(entry: Entry): HttpMethod[] {
    return [...entry.declared].filter((method) => this.providers.has(entry.keys.get(method)!));
  }

  private servedByOthers(entry: Entry, provider: Provider): boolean {
    for (const key of entry.keys.values())
      if (this.providers.servedByOthers(key, provider)) return true;
    return false;
  }

  private isLive(entry: Entry): boolean {
    return this.liveMethods(entry).length > 0;
  }
}
