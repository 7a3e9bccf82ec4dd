import {
  StreamedValue,
  SwitchboardError,
  outgoingRequestId,
  isTrustedCaller,
  toSwitchboardError,
  type CallerInfo,
} from '@switchboard/shared';
import {
  NOOP_HANDLE,
  type CallHandle,
  type CallRequest,
  type CallSink,
  type Provider,
} from './provider.ts';
import type { FunctionRegistry } from '../catalog/registry.ts';
import type { CallStats } from '../observe/call-stats.ts';

/** Per-call options for callers (app code, uplinks through the server, HTTP RPC). */
export interface CallOptions {
  /** Deadline for this call; defaults to the server's callTimeoutMs. */
  timeoutMs?: number;
  /** Aborting it cancels the call (the provider's handler sees its signal fire). */
  signal?: AbortSignal;
  /**
   * Request id for logs on both sides (1–128 of `A-Z a-z 0-9 . _ : @ / + = -`); by default the
   * id of the call being served when called from inside a function or endpoint.
   */
  requestId?: string;
}

/** Routes calls to providers. The one place every call passes through, whatever its origin. */
export class Dispatcher {
  constructor(
    private readonly registry: FunctionRegistry,
    private readonly limits: { callTimeoutMs: number; maxCallTimeoutMs: number },
    private readonly stats: CallStats,
  ) {}

  /** Effective deadline: the caller's wish, else the default, never above the maximum. */
  timeoutFor(requested: number | undefined): number {
    return Math.min(requested ?? this.limits.callTimeoutMs, this.limits.maxCallTimeoutMs);
  }

  dispatch(request: CallRequest, sink: CallSink): CallHandle {
    const refusal = this.admit(request.name, request.caller);
    const provider = refusal === undefined ? this.registry.pick(request.name) : undefined;
    if (provider === undefined) {
      const error = refusal ?? this.noProvider(request.name);
      request.payload?.discard();
      this.stats.refuse(error.code);
      sink.reject(error);
      return NOOP_HANDLE;
    }
    // Counted from here: the call reached a provider (one wrapper per call, settled once).
    const tracked = this.stats.track(request, provider.providerId, sink);
    if (request.payload !== undefined && provider.relaysPayloads !== true)
      return startDecoded(provider, request, request.payload, tracked);
    return provider.start(request, tracked);
  }

  /**
   * Whether `caller` may call `name`, decided from the name alone (before any argument is read):
   * undefined when it may. Functions a caller may not call are reported exactly like names that
   * do not exist, so callers cannot tell the two apart.
   */
  admit(name: string, caller: CallerInfo): SwitchboardError | undefined {
    return isTrustedCaller(caller) ? undefined : this.refuseClient(name, caller);
  }

  /** Client keys and HTTP callers without a server key: only `allowClients` functions. */
  private refuseClient(name: string, caller: CallerInfo): SwitchboardError | undefined {
    const access = this.registry.metaOf(name);
    if (access === undefined || !access.allowClients) return noSuchFunction(name);
    if (access.requireUser !== 'no' && caller.user === undefined) {
      return new SwitchboardError('SB_ERR_AUTH_REQUIRED', `${name} needs a signed-in user`);
    }
    return undefined;
  }

  /** Why a call to a name the caller may see found no provider. */
  private noProvider(name: string): SwitchboardError {
    if (!this.registry.has(name)) return noSuchFunction(name);
    return new SwitchboardError(
      'SB_ERR_UPLINK_UNRESPONSIVE',
      `Every uplink serving ${JSON.stringify(name)} has stopped answering; try again shortly`,
    );
  }

  /** Promise form for app code and HTTP callers. */
  call(
    name: string,
    args: unknown[],
    caller: CallerInfo,
    options: CallOptions = {},
  ): Promise<unknown> {
    if (options.timeoutMs !== undefined && !(options.timeoutMs > 0)) {
      return Promise.reject(
        new SwitchboardError('SB_ERR_OPTIONS_INVALID', 'timeoutMs must be a positive number'),
      );
    }
    let requestId: string | undefined;
    try {
      requestId = outgoingRequestId(options.requestId);
    } catch (error) {
      return Promise.reject(toSwitchboardError(error));
    }
    const request = {
      name,
      args,
      timeoutMs: this.timeoutFor(options.timeoutMs),
      caller,
      requestId,
    };
    return settleAsPromise((sink) => this.dispatch(request, sink), options.signal);
  }
}

/**
 * Args still arriving as a stream, for a provider that needs them whole (a function in this
 * process): collected and decoded first (bounded by the calling connection's message limit).
 */
function startDecoded(
  provider: Provider,
  request: CallRequest,
  payload: StreamedValue,
  sink: CallSink,
): CallHandle {
  let started: CallHandle | undefined;
  let cancelled = false;
  payload.decode().then(
    (args) => {
      if (cancelled) return;
      if (!Array.isArray(args)) {
        sink.reject(new SwitchboardError('SB_ERR_PROTO_BAD_FRAME', 'call args must be an array'));
        return;
      }
      started = provider.start({ ...request, args, payload: undefined }, sink);
    },
    (error: unknown) => {
      if (!cancelled) sink.reject(toSwitchboardError(error));
    },
  );
  return {
    cancel() {
      if (started !== undefined) started.cancel();
      else if (!cancelled) {
        cancelled = true;
        payload.discard(); // stop collecting what nobody will use
        sink.reject(new SwitchboardError('SB_ERR_CALL_CANCELLED'));
      }
    },
  };
}

/**
 * Starts a call with a sink that settles a promise; aborting `signal` cancels the call. A
 * result still arriving as a stream is decoded first (aborting then stops its collection).
 */
function settleAsPromise(
  start: (sink: CallSink) => CallHandle,
  signal: AbortSignal | undefined,
): Promise<unknown> {
  if (signal?.aborted) return Promise.reject(new SwitchboardError('SB_ERR_CALL_CANCELLED'));
  return new Promise((resolve, reject) => {
    // What aborting `signal` does: cancel the call, or stop a result still being collected.
    let cancel = (): void => undefined;
    const onAbort = () => cancel();
    const done = () => signal?.removeEventListener('abort', onAbort);
    let settled = false;
    let decoding = false;
    const sink: CallSink = {
      resolve(value) {
        settled = true;
        if (!(value instanceof StreamedValue)) {
          done();
          resolve(value);
          return;
        }
        decoding = true;
        cancel = () => value.discard(); // the collection then rejects with SB_ERR_CALL_CANCELLED
        value.decode().then(
          (decoded) => {
            done();
            resolve(decoded);
          },
          (error: unknown) => {
            done();
            reject(toSwitchboardError(error));
          },
        );
      },
      reject(error) {
        settled = true;
        done();
        reject(error);
      },
    };
    const handle = start(sink);
    if (signal === undefined) return;
    // A synchronous function settles inside start(): no listener to add (it would never be removed).
    if (!settled)
      cancel = () => handle.cancel(); // the provider settles with SB_ERR_CALL_CANCELLED
    else if (!decoding) return;
    signal.addEventListener('abort', onAbort, { once: true });
  });
}

function noSuchFunction(name: string): SwitchboardError {
  return new SwitchboardError(
    'SB_ERR_NO_SUCH_FUNCTION',
    `No function named ${JSON.stringify(name)} is registered`,
  );
}
