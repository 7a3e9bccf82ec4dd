import path from 'node:path';
import {
  DEFAULT_MAX_MESSAGE_BYTES,
  SwitchboardError,
  rateLimitOf,
  type KeyKind,
} from '@switchboard/shared';
import { parseTrustProxy, trustFunction, type TrustProxy } from './http/client-address.ts';

/** Default TCP port of the front door. */
export const DEFAULT_PORT = 3030;
/** Default interface: loopback only, so a fresh install is not exposed by accident. */
export const DEFAULT_HOST = '127.0.0.1';
/** Default data folder (SQLite store, secrets), relative to the working directory. */
export const DEFAULT_DATA_DIR = '.switchboard';
/** Largest WebSocket message either side accepts: 32 MiB. */
export const DEFAULT_MAX_FRAME_BYTES = 32 * 1024 * 1024;
/** Time a new connection has to send a valid hello: 5 s. */
export const DEFAULT_AUTH_TIMEOUT_MS = 5_000;
/** Server ping interval; a peer silent for two intervals is dropped: 15 s. */
export const DEFAULT_PING_INTERVAL_MS = 15_000;
/**
 * A ping unanswered this long takes an uplink out of rotation (it gets no new calls) until it
 * answers again: 3 s.
 */
export const DEFAULT_PONG_TIMEOUT_MS = 3_000;
/** A ping unanswered this long closes the uplink; its calls in flight fail (502): 8 s. */
export const DEFAULT_UNRESPONSIVE_TIMEOUT_MS = 8_000;
/** Deadline of a call that names none: 30 s. */
export const DEFAULT_CALL_TIMEOUT_MS = 30_000;
/** Longest deadline a caller may ask for: 1 h. */
export const DEFAULT_MAX_CALL_TIMEOUT_MS = 3_600_000;
/** Largest body accepted by the HTTP RPC route: 20 MiB. */
export const DEFAULT_MAX_BODY_BYTES = 20 * 1024 * 1024;
/** Bytes of one stream that may be in flight before the receiver acknowledges: 1 MiB. */
export const DEFAULT_STREAM_WINDOW_BYTES = 1024 * 1024;
/** A stream that could send but sends nothing for this long is aborted: 30 s. */
export const DEFAULT_STREAM_STALL_TIMEOUT_MS = 30_000;
/** Sessions unused for this long expire: 30 days. */
export const DEFAULT_SESSION_TTL_MS = 30 * 86_400_000;
/** `info` of /_/openapi.json unless the `openapi` option says otherwise. */
export const DEFAULT_OPENAPI_INFO = Object.freeze({ title: 'Switchboard API', version: '1.0.0' });
/** How long a drained uplink gets to finish its calls when it or the operator names no limit: 30 s. */
export const DEFAULT_DRAIN_TIMEOUT_MS = 30_000;
/** How long a graceful shutdown lets calls in flight finish before cutting them off: 10 s. */
export const DEFAULT_SHUTDOWN_GRACE_MS = 10_000;
/**
 * What one connection with a client key may send: frames, messages reassembled from streams,
 * and values in one decoded message (server keys get `maxFrameBytes`, `maxMessageBytes` and the
 * codec's 1,000,000 values).
 */
export const DEFAULT_CLIENT_KEY_LIMITS = Object.freeze({
  maxFrameBytes: 1024 * 1024,
  maxMessageBytes: 16 * 1024 * 1024,
  maxValues: 100_000,
});
/** Largest `/_/call` body from a caller with no key and no user: 64 KiB. */
export const DEFAULT_ANONYMOUS_MAX_BODY_BYTES = 64 * 1024;
/** Wrong keys per client address per minute before further tries are refused unseen (429). */
export const DEFAULT_KEY_FAILURE_THROTTLE = Object.freeze({ max: 20, windowMs: 60_000 });
/** Failed sign-ins per login name per minute before 429 (four times as many per address). */
export const DEFAULT_SIGN_IN_THROTTLE = Object.freeze({ max: 5, windowMs: 60_000 });

/** Time a client has to send a request's head (line and headers): 30 s. */
export const DEFAULT_HEADERS_TIMEOUT_MS = 30_000;
/**
 * Time an idle keep-alive connection is kept open for the client's next request: 72 s (Fastify's
 * default, longer than the 60 s idle timeout of common load balancers).
 */
export const DEFAULT_KEEP_ALIVE_TIMEOUT_MS = 72_000;
/** Time a buffered request body (up to maxBodyBytes) has to arrive whole: 120 s. */
export const DEFAULT_BODY_TIMEOUT_MS = 120_000;
/** Time a request body may send nothing while the server waits for more: 30 s. */
export const DEFAULT_BODY_IDLE_TIMEOUT_MS = 30_000;

/**
 * Admin API requests allowed per token, per endpoint and method, per window: reads (GET) and
 * writes (POST, PATCH, DELETE). Failed authentications count against the client address.
 */
export const DEFAULT_ADMIN_RATE_LIMITS = Object.freeze({
  read: Object.freeze({ max: 120, windowMs: 60_000 }),
  write: Object.freeze({ max: 30, windowMs: 60_000 }),
});

/** Shortest password a user may be given (store, CLI, admin API, `sb.users.*`): 8. */
export const DEFAULT_MIN_PASSWORD_LENGTH = 8;

/** A key provisioned from options rather than the store (e.g. from a secret manager). */
export interface ProvisionedKey {
  name: string;
  key: string;
  kind: KeyKind;
  /**
   * Scope of a server key: the function names it may register, exact or a prefix ending in `*`
   * (`['gpu.*', 'ocr']`). Giving this or `endpoints` scopes the key; an omitted list then allows
   * nothing of its kind. @default unscoped (may register anything)
   */
  functions?: string[];
  /** Scope of a server key: endpoint paths it may register (`['/gpu/*', '/status']`). */
  endpoints?: string[];
}

export interface SwitchboardOptions {
  /** Interface to listen on. Env SWITCHBOARD_HOST. @default '127.0.0.1' */
  host?: string;
  /** Port to listen on; 0 picks a free one. Env SWITCHBOARD_PORT. @default 3030 */
  port?: number;
  /** Folder for the SQLite store. Env SWITCHBOARD_DATA_DIR. @default '.switchboard' */
  dataDir?: string;
  /** Keys accepted besides those in the store. */
  keys?: ProvisionedKey[];
  /** Create a server key in an empty store and expose it once as `initialKey`. @default true */
  createInitialKey?: boolean;
  /** @default 33554432 (32 MiB) */
  maxFrameBytes?: number;
  /** @default 5000 */
  authTimeoutMs?: number;
  /** Interval of the server's pings to an idle uplink (1 s while calls are in flight to it). @default 15000 */
  pingIntervalMs?: number;
  /**
   * An uplink that leaves a ping unanswered this long gets no new calls until it answers again.
   * @default 3000
   */
  pongTimeoutMs?: number;
  /**
   * An uplink that leaves a ping unanswered this long is closed and its calls in flight fail with
   * SB_ERR_UPLINK_UNRESPONSIVE (502). Must exceed `pongTimeoutMs`. @default 8000
   */
  unresponsiveTimeoutMs?: number;
  /** @default 30000 */
  callTimeoutMs?: number;
  /** @default 3600000 */
  maxCallTimeoutMs?: number;
  /** @default 20971520 (20 MiB) */
  maxBodyBytes?: number;
  /**
   * Budgets of uplinks connected with a client key: largest WebSocket message, largest message
   * reassembled from a stream, most values in one decoded message. Each at most the server-wide
   * limit. @default { maxFrameBytes: 1048576, maxMessageBytes: 16777216, maxValues: 100000 }
   */
  clientKeyLimits?: { maxFrameBytes?: number; maxMessageBytes?: number; maxValues?: number };
  /**
   * Largest `/_/call` body from a caller with neither a key nor a signed-in user (they may call
   * only `allowClients` functions). @default 65536 (64 KiB)
   */
  anonymousMaxBodyBytes?: number;
  /**
   * Wrong keys allowed per client address per window (WebSocket upgrade, `hello`, `/_/call`);
   * beyond them, tries from that address are refused with 429 before the key is looked at.
   * @default { max: 20, windowMs: 60000 }
   */
  keyFailureThrottle?: { max: number; windowMs: number };
  /**
   * Origin the server is reached at from outside (`https://api.example.com`), when behind a
   * proxy; handlers see it through getAppOrigin()/getApiOrigin(). Env SWITCHBOARD_PUBLIC_ORIGIN.
   * @default the origin of each request (its Host header)
   */
  publicOrigin?: string;
  /**
   * Other origins trusted like the app's own (a web front end served elsewhere): their requests
   * are same-site and get CORS with credentials. Env SWITCHBOARD_ALTERNATE_ORIGINS (comma-separated).
   */
  alternateOrigins?: string[];
  /**
   * Access keys of the private API: endpoints are also served at `/_/private_api/<key>/...`.
   * Env SWITCHBOARD_PRIVATE_API_KEYS (comma-separated). @default none (private API off)
   */
  privateApiKeys?: string[];
  /** Server-wide rate limit per endpoint and client address; an endpoint's own replaces it. */
  rateLimit?: { max: number; windowMs: number };
  /** Failed sign-ins allowed per login name per window (per address: four times as many). @default { max: 5, windowMs: 60000 } */
  signInThrottle?: { max: number; windowMs: number };
  /**
   * Largest message (a call or answer with a big value) either side sends as a stream of frames
   * and the other reassembles; also what one connection may have being reassembled in all.
   * @default 268435456 (256 MiB)
   */
  maxMessageBytes?: number;
  /** Per-stream flow-control window (bytes in flight before credit). @default 1048576 (1 MiB) */
  streamWindowBytes?: number;
  /** A stream with credit that sends nothing for this long is aborted. @default 30000 */
  streamStallTimeoutMs?: number;
  /** Lifetime of an unused session. @default 2592000000 (30 days) */
  sessionTtlMs?: number;
  /** Domain attribute of the `shared` cookie (e.g. `example.com`), so sibling hosts share it. */
  sharedCookieDomain?: string;
  /**
   * Rate limits of the admin API (`/_/admin/api/v1/`), per admin token, endpoint and method;
   * either half may be given alone. 429 with Retry-After beyond them.
   * @default { read: { max: 120, windowMs: 60000 }, write: { max: 30, windowMs: 60000 } }
   */
  adminRateLimits?: {
    read?: { max: number; windowMs: number };
    write?: { max: number; windowMs: number };
  };
  /**
   * Time a drained uplink gets to finish its calls in flight (`hub.drain()`, or an uplink's own
   * `drain()` without `timeoutMs`); then they fail with SB_ERR_DRAIN_TIMEOUT. @default 30000
   */
  drainTimeoutMs?: number;
  /**
   * Time a graceful shutdown (`switchboard.shutdown()`, SIGTERM to `switchboard start`) lets
   * calls in flight finish before cutting them off. Env SWITCHBOARD_SHUTDOWN_GRACE_MS.
   * @default 10000
   */
  shutdownGraceMs?: number;
  /**
   * Shortest password accepted for a user, wherever one is set. Env
   * SWITCHBOARD_MIN_PASSWORD_LENGTH (the CLI's `users` commands read it too). @default 8
   */
  minPasswordLength?: number;
  /** Include stacks of handler errors in HTTP error bodies; implies `exposeErrors`. @default false */
  debug?: boolean;
  /**
   * Show public HTTP callers (of `/_/api`, and of `/_/call` without a server key) the message
   * and class name of a handler's exception. Off: they get a generic message and the request id,
   * and the full error is logged under that id. For development. Env SWITCHBOARD_EXPOSE_ERRORS.
   * @default the `debug` option (false)
   */
  exposeErrors?: boolean;
  /**
   * Proxies believed about the client (`X-Forwarded-For`, `-Proto`, `-Host`): `true` (every
   * peer), a hop count, or addresses/CIDR ranges (`['10.0.0.0/8', 'loopback']`). Decides
   * `request.ip` (rate limits, sign-in throttle, the request's `remoteAddress`) and whether a
   * request came over https (`Secure` cookies). Env SWITCHBOARD_TRUST_PROXY. @default false
   */
  trustProxy?: TrustProxy;
  /** Time a client has to send a request's head. Env SWITCHBOARD_HEADERS_TIMEOUT_MS. @default 30000 */
  headersTimeoutMs?: number;
  /** Idle time of a keep-alive connection between requests. Env SWITCHBOARD_KEEP_ALIVE_TIMEOUT_MS. @default 72000 */
  keepAliveTimeoutMs?: number;
  /**
   * Time a buffered request body has to arrive whole (408 SB_ERR_HTTP_REQUEST_TIMEOUT after).
   * Streamed bodies (endpoints with their own `maxBodyBytes`) have no total limit, only the
   * idle one. Env SWITCHBOARD_BODY_TIMEOUT_MS. @default 120000
   */
  bodyTimeoutMs?: number;
  /**
   * Time a request body may send nothing while the server waits for it (408 after). Env
   * SWITCHBOARD_BODY_IDLE_TIMEOUT_MS. @default 30000
   */
  bodyIdleTimeoutMs?: number;
  /**
   * `info` of the OpenAPI document of the live endpoints at `/_/openapi.json`; `false` serves
   * none (404). @default { title: 'Switchboard API', version: '1.0.0' }
   */
  openapi?: false | { title?: string; version?: string; description?: string };
  /** Fastify logger option (true, false or a pino options object). @default false */
  logger?: boolean | Record<string, unknown>;
  /**
   * Serve Prometheus metrics at `/metrics` (loopback clients, or anyone with `metricsToken`).
   * Env SWITCHBOARD_METRICS (`true`/`false`). @default true
   */
  metrics?: boolean;
  /**
   * Lets non-loopback clients scrape `/metrics` with `Authorization: Bearer <token>` (at least
   * 16 characters). Env SWITCHBOARD_METRICS_TOKEN. @default none (loopback only)
   */
  metricsToken?: string;
}

export type ResolvedOptions = Readonly<
  Required<
    Omit<
      SwitchboardOptions,
      | 'keys'
      | 'logger'
      | 'publicOrigin'
      | 'alternateOrigins'
      | 'privateApiKeys'
      | 'rateLimit'
      | 'sharedCookieDomain'
      | 'openapi'
      | 'adminRateLimits'
      | 'metricsToken'
      | 'clientKeyLimits'
      | 'trustProxy'
    >
  > & {
    keys: readonly ProvisionedKey[];
    publicOrigin: string | undefined;
    logger: boolean | Record<string, unknown>;
    alternateOrigins: readonly string[];
    privateApiKeys: readonly string[];
    rateLimit: { max: number; windowMs: number } | undefined;
    sharedCookieDomain: string | undefined;
    /** Undefined when the document is switched off. */
    openapi: Readonly<{ title: string; version: string; description?: string }> | undefined;
    adminRateLimits: Readonly<{
      read: { max: number; windowMs: number };
      write: { max: number; windowMs: number };
    }>;
    metricsToken: string | undefined;
    clientKeyLimits: Readonly<{
      maxFrameBytes: number;
      maxMessageBytes: number;
      maxValues: number;
    }>;
    trustProxy: boolean | number | readonly string[];
  }
>;

/** Explicit options win over SWITCHBOARD_* environment variables, which win over defaults. */
export function resolveOptions(
  options: SwitchboardOptions = {},
  env: NodeJS.ProcessEnv = process.env,
): ResolvedOptions {
  const resolved = {
    host: options.host ?? env.SWITCHBOARD_HOST ?? DEFAULT_HOST,
    port: options.port ?? envInt(env, 'SWITCHBOARD_PORT') ?? DEFAULT_PORT,
    dataDir: path.resolve(options.dataDir ?? env.SWITCHBOARD_DATA_DIR ?? DEFAULT_DATA_DIR),
    keys: Object.freeze([...(options.keys ?? [])]),
    createInitialKey: options.createInitialKey ?? true,
    maxFrameBytes: options.maxFrameBytes ?? DEFAULT_MAX_FRAME_BYTES,
    authTimeoutMs: options.authTimeoutMs ?? DEFAULT_AUTH_TIMEOUT_MS,
    pingIntervalMs: options.pingIntervalMs ?? DEFAULT_PING_INTERVAL_MS,
    pongTimeoutMs: options.pongTimeoutMs ?? DEFAULT_PONG_TIMEOUT_MS,
    unresponsiveTimeoutMs: options.unresponsiveTimeoutMs ?? DEFAULT_UNRESPONSIVE_TIMEOUT_MS,
    callTimeoutMs: options.callTimeoutMs ?? DEFAULT_CALL_TIMEOUT_MS,
    maxCallTimeoutMs: options.maxCallTimeoutMs ?? DEFAULT_MAX_CALL_TIMEOUT_MS,
    maxBodyBytes: options.maxBodyBytes ?? DEFAULT_MAX_BODY_BYTES,
    anonymousMaxBodyBytes: options.anonymousMaxBodyBytes ?? DEFAULT_ANONYMOUS_MAX_BODY_BYTES,
    clientKeyLimits: Object.freeze({ ...DEFAULT_CLIENT_KEY_LIMITS, ...options.clientKeyLimits }),
    keyFailureThrottle: rateLimitOf(
      options.keyFailureThrottle ?? DEFAULT_KEY_FAILURE_THROTTLE,
      'keyFailureThrottle',
    ),
    publicOrigin: publicOrigin(options.publicOrigin ?? env.SWITCHBOARD_PUBLIC_ORIGIN),
    alternateOrigins: Object.freeze(
      (options.alternateOrigins ?? envList(env, 'SWITCHBOARD_ALTERNATE_ORIGINS')).map((origin) =>
        originOption(origin, 'alternateOrigins'),
      ),
    ),
    privateApiKeys: Object.freeze([
      ...(options.privateApiKeys ?? envList(env, 'SWITCHBOARD_PRIVATE_API_KEYS')),
    ]),
    rateLimit:
      options.rateLimit === undefined ? undefined : rateLimitOf(options.rateLimit, 'rateLimit'),
    signInThrottle: rateLimitOf(
      options.signInThrottle ?? DEFAULT_SIGN_IN_THROTTLE,
      'signInThrottle',
    ),
    sessionTtlMs: options.sessionTtlMs ?? DEFAULT_SESSION_TTL_MS,
    streamWindowBytes: options.streamWindowBytes ?? DEFAULT_STREAM_WINDOW_BYTES,
    maxMessageBytes: options.maxMessageBytes ?? DEFAULT_MAX_MESSAGE_BYTES,
    streamStallTimeoutMs: options.streamStallTimeoutMs ?? DEFAULT_STREAM_STALL_TIMEOUT_MS,
    sharedCookieDomain: options.sharedCookieDomain,
    adminRateLimits: Object.freeze({
      read: rateLimitOf(
        options.adminRateLimits?.read ?? DEFAULT_ADMIN_RATE_LIMITS.read,
        'adminRateLimits.read',
      ),
      write: rateLimitOf(
        options.adminRateLimits?.write ?? DEFAULT_ADMIN_RATE_LIMITS.write,
        'adminRateLimits.write',
      ),
    }),
    drainTimeoutMs: options.drainTimeoutMs ?? DEFAULT_DRAIN_TIMEOUT_MS,
    shutdownGraceMs:
      options.shutdownGraceMs ??
      envInt(env, 'SWITCHBOARD_SHUTDOWN_GRACE_MS') ??
      DEFAULT_SHUTDOWN_GRACE_MS,
    minPasswordLength:
      options.minPasswordLength ??
      envInt(env, 'SWITCHBOARD_MIN_PASSWORD_LENGTH') ??
      DEFAULT_MIN_PASSWORD_LENGTH,
    debug: options.debug ?? false,
    exposeErrors:
      options.exposeErrors ?? envBool(env, 'SWITCHBOARD_EXPOSE_ERRORS') ?? options.debug ?? false,
    trustProxy: trustProxyOption(options.trustProxy, env),
    headersTimeoutMs:
      options.headersTimeoutMs ??
      envInt(env, 'SWITCHBOARD_HEADERS_TIMEOUT_MS') ??
      DEFAULT_HEADERS_TIMEOUT_MS,
    keepAliveTimeoutMs:
      options.keepAliveTimeoutMs ??
      envInt(env, 'SWITCHBOARD_KEEP_ALIVE_TIMEOUT_MS') ??
      DEFAULT_KEEP_ALIVE_TIMEOUT_MS,
    bodyTimeoutMs:
      options.bodyTimeoutMs ??
      envInt(env, 'SWITCHBOARD_BODY_TIMEOUT_MS') ??
      DEFAULT_BODY_TIMEOUT_MS,
    bodyIdleTimeoutMs:
      options.bodyIdleTimeoutMs ??
      envInt(env, 'SWITCHBOARD_BODY_IDLE_TIMEOUT_MS') ??
      DEFAULT_BODY_IDLE_TIMEOUT_MS,
    logger: options.logger ?? false,
    openapi: openApiInfo(options.openapi),
    metrics: options.metrics ?? envBool(env, 'SWITCHBOARD_METRICS') ?? true,
    metricsToken: options.metricsToken ?? (env.SWITCHBOARD_METRICS_TOKEN || undefined),
  };
  if (!Number.isInteger(resolved.port) || resolved.port < 0 || resolved.port > 65535) {
    throw invalid(`port must be an integer 0-65535, got ${resolved.port}`);
  }
  for (const key of [
    'maxFrameBytes',
    'authTimeoutMs',
    'pingIntervalMs',
    'pongTimeoutMs',
    'unresponsiveTimeoutMs',
    'callTimeoutMs',
    'maxCallTimeoutMs',
    'maxBodyBytes',
    'anonymousMaxBodyBytes',
    'sessionTtlMs',
    'streamWindowBytes',
    'streamStallTimeoutMs',
    'maxMessageBytes',
    'drainTimeoutMs',
    'headersTimeoutMs',
    'keepAliveTimeoutMs',
    'bodyTimeoutMs',
    'bodyIdleTimeoutMs',
  ] as const) {
    const value = resolved[key];
    if (!Number.isSafeInteger(value) || value <= 0)
      throw invalid(`${key} must be a positive integer`);
  }
  if (!Number.isSafeInteger(resolved.shutdownGraceMs) || resolved.shutdownGraceMs < 0)
    throw invalid('shutdownGraceMs must be a non-negative integer');
  for (const [key, value] of Object.entries(resolved.clientKeyLimits)) {
    if (!Number.isSafeInteger(value) || value <= 0)
      throw invalid(`clientKeyLimits.${key} must be a positive integer`);
  }
  if (resolved.clientKeyLimits.maxFrameBytes < 1024)
    throw invalid('clientKeyLimits.maxFrameBytes must be at least 1024');
  if (resolved.unresponsiveTimeoutMs <= resolved.pongTimeoutMs)
    throw invalid('unresponsiveTimeoutMs must exceed pongTimeoutMs');
  if (resolved.callTimeoutMs > resolved.maxCallTimeoutMs) {
    throw invalid('callTimeoutMs must not exceed maxCallTimeoutMs');
  }
  if (
    resolved.metricsToken !== undefined &&
    (typeof resolved.metricsToken !== 'string' || !/^\S{16,}$/.test(resolved.metricsToken))
  )
    throw invalid('metricsToken must be at least 16 characters without spaces');
  if (resolved.maxFrameBytes < 1024) throw invalid('maxFrameBytes must be at least 1024');
  for (const key of resolved.privateApiKeys) {
    if (typeof key !== 'string' || !/^[A-Za-z0-9_-]{16,}$/.test(key))
      throw invalid('privateApiKeys must be URL-safe strings of at least 16 characters');
  }
  if (
    !Number.isSafeInteger(resolved.minPasswordLength) ||
    resolved.minPasswordLength < 1 ||
    resolved.minPasswordLength > 1024
  )
    throw invalid('minPasswordLength must be an integer from 1 to 1024');
  const names = new Set<string>();
  for (const key of resolved.keys) {
    if (names.has(key.name))
      throw invalid(`two provisioned keys are named ${JSON.stringify(key.name)}`);
    names.add(key.name);
    if (typeof key.key !== 'string' || key.key.length < 16) {
      throw invalid(`provisioned key ${JSON.stringify(key.name)} must be at least 16 characters`);
    }
    if (key.kind !== 'server' && key.kind !== 'client') {
      throw invalid(`provisioned key ${JSON.stringify(key.name)} has kind ${String(key.kind)}`);
    }
  }
  return Object.freeze(resolved);
}

function trustProxyOption(
  value: TrustProxy | undefined,
  env: NodeJS.ProcessEnv,
): boolean | number | readonly string[] {
  if (value === undefined) {
    const raw = env.SWITCHBOARD_TRUST_PROXY;
    return raw === undefined ? false : parseTrustProxy(raw, 'SWITCHBOARD_TRUST_PROXY');
  }
  if (typeof value !== 'boolean' && typeof value !== 'number' && !Array.isArray(value))
    throw invalid('trustProxy must be true, false, a hop count or a list of addresses');
  trustFunction(value); // throws for a bad count or address
  return typeof value === 'object' ? Object.freeze([...(value as readonly string[])]) : value;
}

function openApiInfo(
  value: SwitchboardOptions['openapi'],
): { title: string; version: string; description?: string } | undefined {
  if (value === false) return undefined;
  if (value === undefined) return DEFAULT_OPENAPI_INFO;
  if (typeof value !== 'object' || value === null)
    throw invalid('openapi must be false or { title?, version?, description? }');
  const info: { title: string; version: string; description?: string } = {
    ...DEFAULT_OPENAPI_INFO,
  };
  for (const key of ['title', 'version', 'description'] as const) {
    const item = value[key];
    if (item === undefined) continue;
    if (typeof item !== 'string' || item === '')
      throw invalid(`openapi.${key} must be a non-empty string`);
    info[key] = item;
  }
  return Object.freeze(info);
}

function publicOrigin(value: string | undefined): string | undefined {
  if (value === undefined || value === '') return undefined;
  return originOption(value, 'publicOrigin');
}

function originOption(value: string, what: string): string {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw invalid(
      `${what} must be URLs like https://api.example.com, got ${JSON.stringify(value)}`,
    );
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:')
    throw invalid(`${what} must be http or https`);
  return url.origin;
}

function envList(env: NodeJS.ProcessEnv, name: string): string[] {
  const raw = env[name];
  if (raw === undefined || raw.trim() === '') return [];
  return raw
    .split(',')
    .map((item) => item.trim())
    .filter((item) => item !== '');
}

function envBool(env: NodeJS.ProcessEnv, name: string): boolean | undefined {
  const raw = env[name]?.trim().toLowerCase();
  if (raw === undefined || raw === '') return undefined;
  if (raw === 'true' || raw === '1' || raw === 'yes') return true;
  if (raw === 'false' || raw === '0' || raw === 'no') return false;
  throw invalid(`${name} must be true or false, got ${JSON.stringify(env[name])}`);
}

function envInt(env: NodeJS.ProcessEnv, name: string): number | undefined {
  const raw = env[name];
  if (raw === undefined || raw === '') return undefined;
  const value = Number(raw);
  if (!Number.isInteger(value))
    throw invalid(`${name} must be an integer, got ${JSON.stringify(raw)}`);
  return value;
}

function invalid(message: string): SwitchboardError {
  return new SwitchboardError('SB_ERR_OPTIONS_INVALID', message);
}
