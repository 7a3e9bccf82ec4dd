import type {
  CallerInfo,
  LocalHttpRequest,
  StreamedValue,
  SwitchboardError,
} from '@switchboard/shared';

/** A call on its way to a provider, as the dispatcher hands it over. */
export interface CallRequest {
  /** Function name; for an HTTP request, the endpoint's path pattern. */
  readonly name: string;
  readonly args: unknown[];
  /**
   * Args too large for one frame, still arriving from the calling uplink (then `args` is
   * empty): an uplink forwards them as they come, a function in this process decodes them first.
   */
  readonly payload?: StreamedValue;
  /** Present for an HTTP request to an endpoint (then `args` is empty); a streamed body as `bodySource`. */
  readonly http?: LocalHttpRequest;
  /** Deadline relative to now; the provider enforces it. Infinity: none (a task's default). */
  readonly timeoutMs: number;
  readonly caller: CallerInfo;
  /** The id of the HTTP request this call serves, carried into logs and on to the provider. */
  readonly requestId?: string;
  /**
   * Served for another server of the cluster: only this server's own providers may take it (one
   * hop at most, never a loop).
   */
  readonly local?: boolean;
  /** Set when the call runs a background task (docs/tasks.md). */
  readonly task?: TaskTag;
}

/** A call that runs a background task: its id, and what the task manager hears back. */
export interface TaskTag {
  readonly id: string;
  /** The dispatcher picked `provider` for it (the task is running from now). */
  started(provider: Provider): void;
  /** The task's new state, from a handler in this process (uplinks call sb.tasks.setState). */
  setState(value: unknown): Promise<void>;
}

/**
 * Where the outcome of a call goes; exactly one of the two is called, exactly once. A value
 * may be a `StreamedValue` (a result still arriving from an uplink) or a `ValueStream`
 * (progressive results): sinks that need the value itself decode or collect it.
 */
export interface CallSink {
  resolve(value: unknown): void;
  reject(error: SwitchboardError): void;
}

/**
 * Lets the origin of a call withdraw it (caller cancelled, went away, or disconnected).
 * `cancel()` on an unsettled call settles its sink with SB_ERR_CALL_CANCELLED.
 */
export interface CallHandle {
  cancel(): void;
}

export const NOOP_HANDLE: CallHandle = { cancel() {} };

/** Something that runs registered functions: an uplink connection or the app's own process. */
export interface Provider {
  /** Stable id for logs and admin views (connection id, or 'app'). */
  readonly providerId: string;
  /**
   * Set for another server of the cluster (its node name): picked only when no provider in this
   * process takes the call.
   */
  readonly node?: string;
  /** Calls started and not yet settled; the balancing policy reads it. */
  readonly inFlight: number;
  /** Takes new calls: false once it is closed or draining (it may still finish calls in flight). */
  readonly accepting: boolean;
  /**
   * Starts the call; the provider enforces `timeoutMs` and settles `sink` exactly once. It takes
   * a `payload` and an HTTP body's `bodyChunks` as they come and decodes or joins them itself
   * if it needs them whole.
   */
  start(request: CallRequest, sink: CallSink): CallHandle;
}
