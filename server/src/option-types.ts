import type { KeyKind } from '@switchboard/shared';
import type { TrustProxy } from './http/client-address.ts';

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
   * Runs this server as one of a cluster on NATS ([docs/cluster.md](../../docs/cluster.md)): the
   * NATS servers' URLs, and this server's node name (letters, digits, `_` and `-`; by default one
   * generated on the first start and kept in the data folder). `stateReplicas` (1-5, default 1):
   * how many NATS servers keep the shared state when the first server creates its bucket (3 with
   * a NATS cluster of three). Env SWITCHBOARD_CLUSTER (comma-separated URLs),
   * SWITCHBOARD_NODE_NAME, SWITCHBOARD_STATE_REPLICAS. @default none: a single server, no NATS
   */
  cluster?: { servers: string[]; nodeName?: string; stateReplicas?: number };
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
  /** Largest encoded `setState` value of a background task. @default 65536 (64 KiB) */
  maxTaskStateBytes?: number;
  /** Largest encoded return value a background task keeps; above it the task fails. @default 1048576 */
  maxTaskResultBytes?: number;
  /** Background tasks this server runs at once; a launch beyond is SB_ERR_TOO_MANY_TASKS. @default 1000 */
  maxRunningTasks?: number;
  /** How long ended background tasks are kept (docs/tasks.md); 0 keeps them. @default 604800000 (7 days) */
  taskRetentionMs?: number;
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
      | 'cluster'
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
    /** Undefined for a single server. */
    cluster:
      | Readonly<{
          servers: readonly string[];
          nodeName: string | undefined;
          stateReplicas: number;
        }>
      | undefined;
  }
>;
