// What an uplink (or app code) registers: functions with their access rules, endpoints with
// their policy, documentation and schemas. Carried by `register` frames.

/**
 * Who besides app code and server keys may call a function. Client keys and HTTP callers
 * without a server key ("clients") may call only functions with `allowClients`.
 */
export interface FunctionAccess {
  allowClients: boolean;
  /** For clients: 'yes' needs a signed-in user; 'check' also runs the provider's predicate. */
  requireUser: 'no' | 'yes' | 'check';
}

export interface FunctionRegistration {
  name: string;
  /** Absent: server keys and app code only. */
  allowClients?: boolean;
  /** Absent: no user needed. */
  requireUser?: 'yes' | 'check';
  /**
   * Absent: arguments are not checked. An array: one schema per positional argument (exactly
   * that many arguments); one schema: the schema of the whole arguments array.
   */
  args?: JsonSchema[] | JsonSchema;
  /** What the function returns: published for callers (types, OpenAPI), not enforced. */
  returns?: JsonSchema;
}

/** The schemas of a function's arguments and result (see FunctionRegistration). */
export interface FunctionSignature {
  args?: JsonSchema[] | JsonSchema;
  returns?: JsonSchema;
}

/** HTTP methods an endpoint may declare; HEAD (for GET) and OPTIONS are answered by the door. */
export const HTTP_METHODS = ['GET', 'POST', 'PUT', 'PATCH', 'DELETE'] as const;
export type HttpMethod = (typeof HTTP_METHODS)[number];

/** What the door enforces for an endpoint before any frame is sent (all off by default). */
export interface EndpointPolicy {
  /** 401 unless Basic credentials are sent; they reach the handler unchecked. */
  requireCredentials?: boolean;
  /** Basic credentials verified against the users store; the handler gets `request.user`. */
  authenticateUsers?: boolean;
  /** Cross-site requests keep the session and Switchboard cookies. */
  crossSiteSession?: boolean;
  /** `true`: `Access-Control-Allow-Origin: *`; a string: that origin. */
  enableCors?: boolean | string;
  /**
   * `max`/`windowMs`: per client address, replacing the server's default limit for this
   * endpoint. `perToken`: per user API token (`Authorization: Token`), as `N/s`, `N/min` or
   * `N/h`, e.g. `'40/min'`. Either or both.
   */
  rateLimit?: EndpointRateLimit;
  /**
   * Accept bodies up to this size, streamed to the handler as they arrive (`req.body` is then
   * read with `for await`), instead of the server's buffered limit.
   */
  maxBodyBytes?: number;
}

/** An endpoint's rate limits: per client address, per user API token, or both. */
export type EndpointRateLimit =
  | { max: number; windowMs: number; perToken?: string }
  | { max?: undefined; windowMs?: undefined; perToken: string };

/** A JSON Schema (draft 2020-12, the dialect of OpenAPI 3.1): an object, or `true`/`false`. */
export type JsonSchema = boolean | { [keyword: string]: unknown };

/**
 * JSON Schemas the door enforces for an endpoint (and publishes in /_/openapi.json). `body`
 * describes a JSON request body, `query` and `params` the object of query string and path
 * parameters (values are strings, coerced to the schema's types before checking), `response`
 * the JSON body per status code (`"200"`, `"404"`) or `"default"` for any status not listed.
 */
export interface EndpointSchema {
  body?: JsonSchema;
  query?: JsonSchema;
  params?: JsonSchema;
  response?: Record<string, JsonSchema>;
}

/** What an endpoint says about itself: documentation and schemas. */
export interface EndpointDoc {
  /** One line, for the OpenAPI operation's `summary`. */
  summary?: string;
  description?: string;
  tags?: string[];
  schema?: EndpointSchema;
}

export interface EndpointRegistration extends EndpointDoc {
  /** Path under /_/api, e.g. `/users/:id/history/:itemId`. */
  path: string;
  methods: HttpMethod[];
  /**
   * Absent: no policy. Every provider of a path must register the same policy (and the same
   * summary, description, tags and schema).
   */
  policy?: EndpointPolicy;
}
