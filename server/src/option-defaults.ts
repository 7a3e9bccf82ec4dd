/** The defaults of every server option (see `SwitchboardOptions` in options.ts). */

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
/** Largest encoded state of a background task (`setState`): 64 KiB. */
export const DEFAULT_MAX_TASK_STATE_BYTES = 64 * 1024;
/** Largest encoded return value a background task may keep as its result: 1 MiB. */
export const DEFAULT_MAX_TASK_RESULT_BYTES = 1024 * 1024;
/** Background tasks one server runs at once; launches beyond it are refused: 1,000. */
export const DEFAULT_MAX_RUNNING_TASKS = 1000;
/** Ended background tasks are kept this long: 7 days. */
export const DEFAULT_TASK_RETENTION_MS = 7 * 86_400_000;
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
