import {
  DEFAULT_MAX_MESSAGE_BYTES,
  MAX_UPLINK_NAME_LENGTH,
  SwitchboardError,
  UPLINK_PATH,
  isUplinkName,
} from '@switchboard/shared';
import type { UplinkLogger } from './logger.ts';

/** First reconnect delay: 250 ms. */
export const DEFAULT_INITIAL_DELAY_MS = 250;
/** Reconnect delay cap: 10 s. */
export const DEFAULT_MAX_DELAY_MS = 10_000;
/** How long `connect()` waits for the first connection (with `waitForServer`: keeps trying) before it rejects: 15 s. */
export const DEFAULT_CONNECT_TIMEOUT_MS = 15_000;
/** Deadline of an outgoing call that names none: 30 s. */
export const DEFAULT_CALL_TIMEOUT_MS = 30_000;
/** Incoming calls run at once up to this many; more wait in order: 64. */
export const DEFAULT_MAX_CONCURRENT_CALLS = 64;
/** How long `drain()` lets calls in flight finish when it names no limit: 30 s. */
export const DEFAULT_DRAIN_TIMEOUT_MS = 30_000;
/** Largest message this uplink accepts: 32 MiB. */
export const DEFAULT_MAX_FRAME_BYTES = 32 * 1024 * 1024;

export interface ReconnectOptions {
  /** @default 250 */
  initialDelayMs?: number;
  /** @default 10000 */
  maxDelayMs?: number;
}

export interface ConnectOptions {
  /**
   * Server base URL (`http://host:3030`) or its WebSocket endpoint (`ws://host:3030/_/uplink`);
   * or several, the servers of a cluster: the uplink connects to the first and, whenever its
   * connection is lost (a server stopping, restarting or gone), tries the next one. On a
   * server's `goaway` it moves to the next one before leaving the old (docs/cluster.md).
   */
  url: string | string[];
  /** A server key (register and call) or a client key (call only). */
  key: string;
  /**
   * Name shown in the server's logs and to the functions this uplink calls: 1–128 printable
   * characters (the server refuses others).
   */
  name?: string;
  /** Reconnect after a lost connection (exponential backoff with full jitter). @default true */
  reconnect?: boolean | ReconnectOptions;
  /**
   * How long `connect()` waits for the first connection before it rejects with
   * SB_ERR_CONNECTION_FAILED: the bound on one slow attempt (an address that drops packets) and,
   * with `waitForServer`, on all the attempts. `Infinity` waits without limit. @default 15000
   */
  connectTimeoutMs?: number;
  /**
   * What `connect()` does when the first attempt fails (nothing listening, a proxy answering
   * 502, the connection dropped before welcome). Off: it rejects at once with that attempt's
   * coded error (SB_ERR_CONNECTION_FAILED for a refused connection), so a wrong URL or a
   * server that is down is reported in milliseconds. On: it keeps trying with the reconnect
   * backoff until `connectTimeoutMs`, for an uplink started before its server (a compose file,
   * a boot script). A refused key rejects at once either way. @default false
   */
  waitForServer?: boolean;
  /** Deadline of calls that name none. @default 30000 */
  callTimeoutMs?: number;
  /** Incoming calls run concurrently up to this many; more wait in order. @default 64 */
  maxConcurrentCalls?: number;
  /** Largest message this uplink accepts. @default 33554432 */
  maxFrameBytes?: number;
  /**
   * Largest value (a call's args, a result) this uplink takes as a stream of frames and holds
   * whole; a larger one fails that call with SB_ERR_PROTO_FRAME_TOO_LARGE. @default 268435456
   */
  maxMessageBytes?: number;
  /** How long `drain()` lets calls in flight finish unless it says otherwise. @default 30000 */
  drainTimeoutMs?: number;
  /** Heartbeat interval; by default the server's, learned at welcome. */
  pingIntervalMs?: number;
  /**
   * Mask outgoing frames with random keys, as browsers must. Off by default: the key is all
   * zeros (still valid framing), which saves an XOR pass over every byte on both ends.
   * @default false
   */
  maskFrames?: boolean;
  /**
   * Where to log connection changes, failed calls (warn) and every call served (debug), each with
   * the request id (`reqId`) it carries: a pino logger, `jsonLogger()`, or anything with
   * `debug/info/warn/error(fields, message)`. @default none (silent)
   */
  logger?: UplinkLogger;
}

export interface ResolvedConnectOptions {
  /** The servers' WebSocket endpoints, tried in turn (at least one). */
  readonly wsUrls: readonly string[];
  readonly key: string;
  readonly name: string | undefined;
  readonly reconnect: Readonly<Required<ReconnectOptions>> | false;
  readonly connectTimeoutMs: number;
  readonly waitForServer: boolean;
  readonly callTimeoutMs: number;
  readonly maxConcurrentCalls: number;
  readonly maxFrameBytes: number;
  readonly maxMessageBytes: number;
  readonly drainTimeoutMs: number;
  readonly pingIntervalMs: number | undefined;
  readonly maskFrames: boolean;
  readonly logger: UplinkLogger | undefined;
}

export function resolveConnectOptions(options: ConnectOptions): ResolvedConnectOptions {
  if (typeof options.key !== 'string' || options.key === '') {
    throw invalid('connect() needs a key (set SWITCHBOARD_KEY or pass { key })');
  }
  // Checked here: the server would refuse the hello on every reconnect.
  if (options.name !== undefined && !isUplinkName(options.name)) {
    throw invalid(`name must be 1-${MAX_UPLINK_NAME_LENGTH} printable characters`);
  }
  const reconnect =
    options.reconnect === false
      ? false
      : Object.freeze({
          initialDelayMs:
            (typeof options.reconnect === 'object'
              ? options.reconnect.initialDelayMs
              : undefined) ?? DEFAULT_INITIAL_DELAY_MS,
          maxDelayMs:
            (typeof options.reconnect === 'object' ? options.reconnect.maxDelayMs : undefined) ??
            DEFAULT_MAX_DELAY_MS,
        });
  const resolved: ResolvedConnectOptions = {
    wsUrls: Object.freeze(serverUrls(options.url).map(toWebSocketUrl)),
    key: options.key,
    name: options.name,
    reconnect,
    connectTimeoutMs: options.connectTimeoutMs ?? DEFAULT_CONNECT_TIMEOUT_MS,
    waitForServer: options.waitForServer ?? false,
    callTimeoutMs: options.callTimeoutMs ?? DEFAULT_CALL_TIMEOUT_MS,
    maxConcurrentCalls: options.maxConcurrentCalls ?? DEFAULT_MAX_CONCURRENT_CALLS,
    maxFrameBytes: options.maxFrameBytes ?? DEFAULT_MAX_FRAME_BYTES,
    maxMessageBytes: options.maxMessageBytes ?? DEFAULT_MAX_MESSAGE_BYTES,
    drainTimeoutMs: options.drainTimeoutMs ?? DEFAULT_DRAIN_TIMEOUT_MS,
    pingIntervalMs: options.pingIntervalMs,
    maskFrames: options.maskFrames ?? false,
    logger: options.logger,
  };
  for (const key of [
    'connectTimeoutMs',
    'callTimeoutMs',
    'maxConcurrentCalls',
    'maxFrameBytes',
    'maxMessageBytes',
    'drainTimeoutMs',
  ] as const) {
    if (!(resolved[key] > 0)) throw invalid(`${key} must be positive`);
  }
  if (
    reconnect !== false &&
    !(reconnect.initialDelayMs > 0 && reconnect.maxDelayMs >= reconnect.initialDelayMs)
  ) {
    throw invalid('reconnect needs 0 < initialDelayMs <= maxDelayMs');
  }
  if (
    resolved.logger !== undefined &&
    !(['debug', 'info', 'warn', 'error'] as const).every(
      (level) => typeof resolved.logger?.[level] === 'function',
    )
  ) {
    throw invalid('logger needs debug, info, warn and error methods');
  }
  return Object.freeze(resolved);
}

function serverUrls(url: string | string[]): string[] {
  const urls = Array.isArray(url) ? url : [url];
  if (urls.length === 0) throw invalid('url needs at least one server URL');
  return urls;
}

/** `http://h:p` → `ws://h:p/_/uplink`; a URL already ending in /_/uplink is kept. */
export function toWebSocketUrl(url: string): string {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw invalid(`Invalid server URL ${JSON.stringify(url)}`);
  }
  const protocols: Record<string, string> = {
    'http:': 'ws:',
    'https:': 'wss:',
    'ws:': 'ws:',
    'wss:': 'wss:',
  };
  const protocol = protocols[parsed.protocol];
  if (protocol === undefined) throw invalid(`Unsupported URL scheme ${parsed.protocol}`);
  parsed.protocol = protocol;
  if (!parsed.pathname.endsWith(UPLINK_PATH)) {
    parsed.pathname = parsed.pathname.replace(/\/$/, '') + UPLINK_PATH;
  }
  return parsed.toString();
}

function invalid(message: string): SwitchboardError {
  return new SwitchboardError('SB_ERR_OPTIONS_INVALID', message);
}
