import FindMyWay from 'find-my-way';
import {
  HTTP_METHODS,
  SwitchboardError,
  canonicalJson,
  endpointShape,
  samePolicy,
  type EndpointDoc,
  type EndpointPolicy,
  type HttpMethod,
} from '@switchboard/shared';
import { EndpointValidators } from '../schema/endpoint-validators.ts';
import { SchemaCompiler } from '../schema/schema-compiler.ts';
import type { Provider } from '../hub/provider.ts';
import { Registry } from './registry.ts';

/** What a registration brings besides its methods: the door's policy, docs and schemas. */
export interface EndpointSpec extends EndpointDoc {
  policy?: EndpointPolicy;
}

/** A pattern with at least one live method, as /_/openapi.json describes it. */
export interface LiveEndpoint {
  readonly pattern: string;
  readonly methods: readonly HttpMethod[];
  readonly policy: EndpointPolicy | undefined;
  readonly doc: EndpointDoc;
}

interface Entry {
  readonly pattern: string;
  /** Registry key per method, built once: `GET /users/:id`. */
  readonly keys: ReadonlyMap<HttpMethod, string>;
  /** Every method ever declared for the pattern (to tell 503 from 405 once providers left). */
  readonly declared: Set<HttpMethod>;
  /** What the door enforces; every live provider registered this same policy. */
  policy: EndpointPolicy | undefined;
  /** Summary, description, tags and schemas, which every live provider also agrees on. */
  doc: EndpointDoc;
  /** `doc` as canonical JSON, to compare registrations by content. */
  docKey: string;
  /** The compiled schemas; undefined when the endpoint declares none (the door's fast path). */
  validators: EndpointValidators | undefined;
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
      validators: EndpointValidators | undefined;
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
  private readonly compiler = new SchemaCompiler();
  private changes = 0;

  /** Grows with every registration and withdrawal: what was derived from an older count is stale. */
  get version(): number {
    return this.changes;
  }

  /**
   * Compiles the registration's schemas (SB_ERR_SCHEMA_INVALID) and refuses
   * (SB_ERR_ENDPOINT_CONFLICT) a pattern whose shape is live under another pattern, or live under
   * this pattern with another policy, summary, description, tags or schema from a provider other
   * than `provider`. Returns the compiled schemas.
   */
  check(pattern: string, spec: EndpointSpec, provider: Provider): EndpointValidators | undefined {
    const validators = EndpointValidators.compile(spec.schema, this.compiler);
    const existing = this.byShape.get(endpointShape(pattern));
    if (existing === undefined || !this.isLive(existing)) return validators;
    if (existing.pattern !== pattern) {
      throw new SwitchboardError(
        'SB_ERR_ENDPOINT_CONFLICT',
        `Endpoint ${pattern} conflicts with the live endpoint ${existing.pattern}`,
      );
    }
    if (!this.servedByOthers(existing, provider)) return validators;
    if (!samePolicy(existing.policy, spec.policy)) {
      throw new SwitchboardError(
        'SB_ERR_ENDPOINT_CONFLICT',
        `Endpoint ${pattern} is live with different options (auth, CORS, sessions, rate limit); every provider of a path must register the same options`,
      );
    }
    if (existing.docKey !== canonicalJson(docOf(spec))) {
      throw new SwitchboardError(
        'SB_ERR_ENDPOINT_CONFLICT',
        `Endpoint ${pattern} is live with a different summary, description, tags or schema; every provider of a path must register the same`,
      );
    }
    return validators;
  }

  add(
    pattern: string,
    registration: EndpointSpec & { methods: readonly HttpMethod[] },
    provider: Provider,
  ): void {
    const { methods, policy } = registration;
    const validators = this.check(pattern, registration, provider);
    const doc = docOf(registration);
    const shape = endpointShape(pattern);
    let entry = this.byShape.get(shape);
    if (entry !== undefined && entry.pattern !== pattern) {
      this.router.off('GET', entry.pattern); // a dead pattern of the same shape gives way
      entry = undefined;
    }
    if (entry === undefined) {
      const keys = new Map(HTTP_METHODS.map((method) => [method, `${method} ${pattern}`]));
      entry = { pattern, keys, declared: new Set(), policy, doc, docKey: '', validators };
      this.router.on('GET', pattern, () => undefined, entry); // first: it may throw
      this.byShape.set(shape, entry);
    }
    entry.policy = policy;
    entry.doc = doc;
    entry.docKey = canonicalJson(doc);
    entry.validators = validators;
    this.changes++;
    for (const method of methods) {
      this.providers.add(entry.keys.get(method)!, provider, undefined);
      entry.declared.add(method);
    }
  }

  remove(pattern: string, methods: readonly HttpMethod[], provider: Provider): void {
    const entry = this.byShape.get(endpointShape(pattern));
    if (entry === undefined || entry.pattern !== pattern) return;
    this.changes++;
    for (const method of methods) this.providers.remove(entry.keys.get(method)!, provider);
  }

  /**
   * Every pattern some provider serves now, with its live methods; with `by`, only the methods
   * some provider `by` accepts serves.
   */
  live(by?: (provider: Provider) => boolean): LiveEndpoint[] {
    const result: LiveEndpoint[] = [];
    for (const entry of this.byShape.values()) {
      const methods =
        by === undefined
          ? this.liveMethods(entry)
          : [...entry.declared].filter((method) =>
              this.providers.providersOf(entry.keys.get(method)!).some(by),
            );
      if (methods.length === 0) continue;
      result.push({ pattern: entry.pattern, methods, policy: entry.policy, doc: entry.doc });
    }
    return result;
  }

  /**
   * `localOnly`: only this process's own providers (a request served for another server);
   * `exclude`: providers already tried for this request.
   */
  resolve(
    method: string,
    path: string,
    localOnly = false,
    exclude?: ReadonlySet<Provider>,
  ): Resolution {
    const found = this.router.find('GET', path);
    if (found === null) return { kind: 'not-found' };
    const entry = found.store as Entry;
    const effective = (method === 'HEAD' ? 'GET' : method) as HttpMethod;
    const key = entry.keys.get(effective);
    const provider = key === undefined ? undefined : this.providers.pick(key, localOnly, exclude);
    if (provider !== undefined) {
      const params = { ...found.params } as Record<string, string>;
      return {
        kind: 'ok',
        pattern: entry.pattern,
        params,
        provider,
        policy: entry.policy,
        validators: entry.validators,
      };
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

  /** Live endpoints (at least one provider) with their methods and providers, for admin views. */
  list(): Array<{ path: string; methods: HttpMethod[]; providers: Provider[] }> {
    const live = [];
    for (const entry of this.byShape.values()) {
      const methods = this.liveMethods(entry);
      if (methods.length === 0) continue;
      const providers = new Set<Provider>();
      for (const method of methods) {
        for (const provider of this.providers.providersOf(entry.keys.get(method)!))
          providers.add(provider);
      }
      live.push({ path: entry.pattern, methods, providers: [...providers] });
    }
    return live;
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

/** The documentation part of a registration, without unset fields. */
function docOf(spec: EndpointSpec): EndpointDoc {
  const doc: EndpointDoc = {};
  if (spec.summary !== undefined) doc.summary = spec.summary;
  if (spec.description !== undefined) doc.description = spec.description;
  if (spec.tags !== undefined) doc.tags = spec.tags;
  if (spec.schema !== undefined) doc.schema = spec.schema;
  return doc;
}
