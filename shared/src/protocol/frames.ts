import type { WireError } from '../errors/switchboard-error.ts';
import type { CallerInfo, KeyKind } from './caller.ts';
import type { Limits } from './connection-limits.ts';
import type { EndpointRegistration, FunctionRegistration } from './registrations.ts';
import type { WireHttpRequest } from './wire-http.ts';

/** The wire protocol version this code speaks. */
export const PROTOCOL_VERSION = 1;

/** Path of the WebSocket endpoint on the server. */
export const UPLINK_PATH = '/_/uplink';

/** Largest call id: ids are unsigned 32-bit so every MessagePack library handles them natively. */
export const MAX_CALL_ID = 0xffff_ffff;

// ---------------------------------------------------------------------------------------------
// Frames valid in both directions.

/** Invoke a function. `id` is unique among the sender's own unanswered calls. */
export interface CallFrame {
  type: 'call';
  id: number;
  name: string;
  /** Empty when `payload` is set. */
  args: unknown[];
  /** Relative deadline; the receiver cancels the work when it passes. */
  timeoutMs?: number;
  /** Only on server → uplink calls. */
  caller?: CallerInfo;
  /** The args are too large for one frame: their encoding (one array) follows as this stream. */
  payload?: StreamedPayload;
  /**
   * The id of the HTTP request this call serves (see `isRequestId`), for logs on both sides. An
   * uplink's call made while serving a call passes that call's id on.
   */
  requestId?: string;
  /**
   * Only on server → uplink calls: the function runs as this background task (`tsk_…`); its
   * handler may report progress with a call to `sb.tasks.setState(task, state)`.
   */
  task?: string;
  /**
   * Never sent. Set by the decode gate on a well-formed frame that names something no
   * registration can have (an invalid function name, endpoint path or method): the receiver
   * answers `error` with it for `id` and does nothing else; the connection stays open.
   */
  refusal?: WireError;
}

/** Server → uplink: serve an HTTP request with the endpoint registered under `path`. */
export interface RequestFrame {
  type: 'request';
  id: number;
  /** The endpoint's path pattern as registered. */
  endpoint: string;
  request: WireHttpRequest;
  timeoutMs?: number;
  caller?: CallerInfo;
  /** The HTTP request's id (`X-Request-Id`, or the one the server made up). */
  requestId?: string;
}

/** The sender no longer wants the answer to its call `id`. */
export interface CancelFrame {
  type: 'cancel';
  id: number;
}

/** Successful answer to the peer's call/register/unregister `id`. */
export interface ResultFrame {
  type: 'result';
  id: number;
  value?: unknown;
  /**
   * Instead of `value`: the function produces its result progressively, as the values of this
   * stream of the sender's (one encoded value per chunk).
   */
  stream?: number;
  /** Instead of `value`: the value is too large for one frame; its encoding follows as this stream. */
  payload?: StreamedPayload;
}

/**
 * A call's args or a result's value whose encoding is above one frame: the bytes follow as
 * stream `stream` of the sender's (`bytes` in all), under the usual credit flow control. The
 * frame announcing it is small and keeps its place in order; the server forwards the stream
 * between uplinks chunk by chunk without holding the value.
 */
export interface StreamedPayload {
  stream: number;
  bytes: number;
}

/** Failed answer to the peer's request `id`; without `id`, a connection-level error before close. */
export interface ErrorFrame {
  type: 'error';
  id?: number;
  error: WireError;
}

/**
 * Bytes of stream `stream` (ids are the sender's own, unique among its open streams). The
 * sender never has more bytes unacknowledged than the receiver's credit allows.
 */
export interface ChunkFrame {
  type: 'chunk';
  stream: number;
  data: Uint8Array;
}

/** The sender's stream `stream` is complete, or failed with `error` (then it is incomplete). */
export interface EndFrame {
  type: 'end';
  stream: number;
  error?: WireError;
}

/** The receiver of stream `stream` has consumed `bytes` more: the sender may send that many more. */
export interface CreditFrame {
  type: 'credit';
  stream: number;
  bytes: number;
}

/** The receiver of stream `stream` wants no more of it: the sender stops and sends no `end`. */
export interface AbortFrame {
  type: 'abort';
  stream: number;
  /**
   * Present when the receiver refused the stream rather than just losing interest:
   * SB_ERR_STREAM_CREDIT_EXCEEDED (the sender overran its credit), SB_ERR_STREAM_STALLED,
   * SB_ERR_STREAM_LIMIT.
   */
  error?: WireError;
}

/**
 * The next message is too large for one frame: its encoded bytes (`bytes` in all) follow as
 * stream `stream`; the receiver decodes it once complete, as if it had arrived whole.
 */
export interface LargeFrame {
  type: 'large';
  stream: number;
  bytes: number;
}

export type StreamFrame = ChunkFrame | EndFrame | CreditFrame | AbortFrame | LargeFrame;

// ---------------------------------------------------------------------------------------------
// Uplink → server.

export interface HelloFrame {
  type: 'hello';
  protocol: number;
  /** The key, for clients that cannot set an Authorization header at upgrade. */
  key?: string;
  /** A human-readable name for this uplink (shown in logs and to callees). */
  name?: string;
  /** Largest message the uplink accepts. */
  maxFrameBytes?: number;
}

/** Adds functions this uplink provides; answered with `result` (or `error`). */
export interface RegisterFrame {
  type: 'register';
  id: number;
  functions: FunctionRegistration[];
  endpoints: EndpointRegistration[];
  /**
   * Never sent. Set by the decode gate on a well-formed frame that names something no
   * registration can have (an invalid function name, endpoint path or method): the receiver
   * answers `error` with it for `id` and does nothing else; the connection stays open.
   */
  refusal?: WireError;
}

/** Withdraws functions; answered with `result`. */
export interface UnregisterFrame {
  type: 'unregister';
  id: number;
  names: string[];
  /** Endpoint paths to withdraw. */
  paths: string[];
  /**
   * Never sent. Set by the decode gate on a well-formed frame that names something no
   * registration can have (an invalid function name, endpoint path or method): the receiver
   * answers `error` with it for `id` and does nothing else; the connection stays open.
   */
  refusal?: WireError;
}

/**
 * Take this uplink out of rotation: the server sends it no new calls or requests and answers
 * with `draining`; the uplink finishes what is in flight, then closes with 4003 (DRAINED).
 */
export interface DrainFrame {
  type: 'drain';
  /** How long the uplink gives its calls in flight; the server closes a while after that. */
  timeoutMs?: number;
}

// ---------------------------------------------------------------------------------------------
// Server → uplink.

export interface WelcomeFrame {
  type: 'welcome';
  protocol: number;
  connectionId: string;
  keyKind: KeyKind;
  keyName: string;
  limits: Limits;
}

/**
 * Server → uplink: this uplink is out of rotation. No call or request is sent to it after this
 * frame; it finishes those in flight, then closes with 4003 (DRAINED) and does not reconnect.
 */
export interface DrainingFrame {
  type: 'draining';
  /** `requested`: the uplink sent `drain`; `admin`: the server's operator drained it. */
  reason: 'requested' | 'admin';
  /** When this has passed, the server closes the connection and fails what is still running. */
  timeoutMs: number;
}

/**
 * Server → uplink: the server is shutting down. It takes no new HTTP traffic, lets calls in
 * flight finish for up to `graceMs`, then closes with 1001; reconnect with the usual backoff.
 */
export interface GoAwayFrame {
  type: 'goaway';
  graceMs: number;
}

export type UplinkToServerFrame =
  | HelloFrame
  | RegisterFrame
  | UnregisterFrame
  | DrainFrame
  | CallFrame
  | CancelFrame
  | ResultFrame
  | ErrorFrame
  | StreamFrame;

export type ServerToUplinkFrame =
  | WelcomeFrame
  | DrainingFrame
  | GoAwayFrame
  | CallFrame
  | RequestFrame
  | CancelFrame
  | ResultFrame
  | ErrorFrame
  | StreamFrame;

export type AnyFrame = UplinkToServerFrame | ServerToUplinkFrame;

/** WebSocket close codes used by Switchboard (4000–4999 are application codes). */
export const CLOSE_CODES = {
  /** Client closed on purpose. */
  NORMAL: 1000,
  /** Server shutting down or restarting: reconnect with backoff. */
  GOING_AWAY: 1001,
  /** A message exceeded the negotiated maximum. */
  MESSAGE_TOO_BIG: 1009,
  /** Malformed or unknown frame, or unsupported protocol version. */
  PROTOCOL_ERROR: 4000,
  /** Authentication failed: missing, bad or revoked key, or no hello in time. */
  AUTH_FAILED: 4001,
  /** The server closed the connection on purpose (dead peer, administrator). */
  KICKED: 4002,
  /**
   * The uplink was drained: it finished its calls (or the drain deadline cut them off) and the
   * connection closed; sent by the uplink when done, or by the server at the deadline. The
   * uplink does not reconnect.
   */
  DRAINED: 4003,
} as const;

/** Builds a close reason `CODE: message` that fits the 123-byte WebSocket limit. */
export function closeReason(code: string, message: string): string {
  const full = `${code}: ${message}`;
  const bytes = Buffer.from(full, 'utf8');
  if (bytes.byteLength <= 123) return full;
  return (
    bytes
      .subarray(0, 120)
      .toString('utf8')
      .replace(/\uFFFD$/, '') + '...'
  );
}
