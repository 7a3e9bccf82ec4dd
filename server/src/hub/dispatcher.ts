import {
  StreamedValue,
  SwitchboardError,
  outgoingRequestId,
  isTrustedCaller,
  toSwitchboardError,
  type CallerInfo,
  type LocalHttpRequest,
} from '@switchboard/shared';
import {
  NOOP_HANDLE,
  type CallHandle,
  type CallRequest,
  type CallSink,
  type Provider,
} from './provider.ts';
import { startWithDecodedArgs } from './decoded-args.ts';
import { replayable, startMovable } from './moved-retry.ts';
import type { EndpointTable } from '../catalog/endpoint-table.ts';
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

/**
 * A call as its origin hands it to the dispatcher: `timeoutMs` is the caller's wish (undefined
 * for the server's default), which the dispatcher makes the effective deadline before any
 * provider sees the request.
 */
export type CallOrder = Omit<CallRequest, 'timeoutMs'> & { timeoutMs: number | undefined };

/** Routes calls to providers. The one place every call passes through, whatever its origin. */
export class Dispatcher {
  constructor(
    private readonly registry: FunctionRegistry,
    private readonly endpoints: EndpointTable,
    private readonly limits: { callTimeoutMs: number; maxCallTimeoutMs: number },
    private readonly stats: CallStats,
  ) {}

  /** Effective deadline: the caller's wish, else the default, never above the maximum. */
  private timeoutFor(requested: number | undefined): number {
    return Math.min(requested ?? this.limits.callTimeoutMs, this.limits.maxCallTimeoutMs);
  }

  /**
   * Starts a call: a function call goes to the provider of its name with the fewest calls in
   * flight, an HTTP request (`http`) to `matched`, the provider the door picked for the endpoint
   * (or, if that one stopped taking calls since, to the one the endpoint table picks now). Sets
   * the deadline, counts the call and hands the provider a sink that settles `sink` exactly once;
   * a call that finds no provider is rejected here. Args or bodies still arriving as streams or
   * chunks go to the provider as they are: each provider knows what it needs whole.
   */
  dispatch(order: CallOrder, sink: CallSink, matched?: Provider): CallHandle {
    // The origin's own object: bounding it in place spares a copy per call (and is idempotent).
    // A task has no deadline unless its launcher gave one (not bounded by maxCallTimeoutMs).
    order.timeoutMs =
      order.task === undefined ? this.timeoutFor(order.timeoutMs) : (order.timeoutMs ?? Infinity);
    const request = order as CallRequest;
    // Arguments still arriving can only be checked whole: collected first, then dispatched again
    // (only for a caller admitted to a function that checks its arguments).
    if (request.payload !== undefined && this.checksPayload(request))
      return startWithDecodedArgs(request, sink, (decoded, to) => this.dispatch(decoded, to));
    const provider =
      request.http === undefined
        ? this.functionProvider(request, sink)
        : this.endpointProvider(request.http, request.local, matched, sink);
    if (provider === undefined) return NOOP_HANDLE;
    // Counted from here: the call reached a provider (one wrapper per call, settled once).
    const tracked = this.stats.track(request, provider.providerId, sink);
    request.task?.started(provider);
    // Another server may answer that it no longer serves it (the uplink moved): start it again.
    if (provider.node !== undefined && replayable(request))
      return startMovable(request, provider, (tried) => this.repick(request, tried), tracked);
    return provider.start(request, tracked);
  }

  /** Another provider for a call, none of `tried`, for a retry after SB_ERR_NOT_SERVED_HERE. */
  private repick(request: CallRequest, tried: ReadonlySet<Provider>): Provider | undefined {
    const { http, local } = request;
    if (http === undefined) return this.registry.pick(request.name, local, tried);
    const again = this.endpoints.resolve(http.method, http.path, local, tried);
    return again.kind === 'ok' ? again.provider : undefined;
  }

  /** Whether a call's streamed args must be decoded here: its function checks them. */
  private checksPayload(request: CallRequest): boolean {
    return (
      request.http === undefined &&
      this.registry.metaOf(request.name)?.args !== undefined &&
      this.admit(request.name, request.caller) === undefined
    );
  }

  /**
   * The provider for a function call, or undefined once `sink` has the refusal: the caller may
   * not call it, its arguments break the function's `args` schemas (SB_ERR_VALIDATION, before
   * any provider sees them, whoever calls), or no provider takes it.
   */
  private functionProvider(request: CallRequest, sink: CallSink): Provider | undefined {
    const refusal = this.admit(request.name, request.caller) ?? this.checkArgs(request);
    const provider =
      refusal === undefined ? this.registry.pick(request.name, request.local) : undefined;
    if (provider === undefined) {
      const error = refusal ?? this.noProvider(request.name);
      request.payload?.discard();
      this.stats.refuse(error.code);
      sink.reject(error);
    }
    return provider;
  }

  /**
   * The provider for an HTTP request, or undefined once `sink` has the refusal. The door picks
   * one before an await (body upload, sign-in, rate limit): it may have left or started
   * draining since, so the table is asked again rather than sending it a request it would not
   * serve. The door already answered for paths it could not match, and no access check applies
   * here; like before, such a late miss is not counted as a refusal (`stats.refuse`).
   */
  private endpointProvider(
    http: LocalHttpRequest,
    local: boolean | undefined,
    matched: Provider | undefined,
    sink: CallSink,
  ): Provider | undefined {
    if (matched?.accepting === true) return matched;
    const again = this.endpoints.resolve(http.method, http.path, local);
    if (again.kind === 'ok') return again.provider;
    sink.reject(
      new SwitchboardError(
        'SB_ERR_HTTP_NO_PROVIDER',
        `No uplink serving ${http.path} is connected`,
      ),
    );
    return undefined;
  }

  /**
   * Whether `caller` may call `name`, decided from the name alone (before any argument is read):
   * undefined when it may. Functions a caller may not call are reported exactly like names that
   * do not exist, so callers cannot tell the two apart.
   */
  admit(name: string, caller: CallerInfo): SwitchboardError | undefined {
    return isTrustedCaller(caller) ? undefined : this.refuseClient(name, caller);
  }

  /**
   * Why `caller` may not start `name` with `args` now (not allowed, no such function, arguments
   * that break its schemas), or undefined: what a launch checks before it records anything.
   */
  vet(name: string, args: unknown[], caller: CallerInfo): SwitchboardError | undefined {
    const refusal = this.admit(name, caller);
    if (refusal !== undefined) return refusal;
    if (!this.registry.has(name)) return noSuchFunction(name);
    return this.checkArgs({ name, args });
  }

  /** SB_ERR_VALIDATION when the arguments break the function's `args` schemas. */
  private checkArgs(
    request: Pick<CallRequest, 'name' | 'args' | 'payload'>,
  ): SwitchboardError | undefined {
    const check = this.registry.metaOf(request.name)?.args;
    if (check === undefined || request.payload !== undefined) return undefined;
    try {
      check.check(request.name, request.args);
      return undefined;
    } catch (error) {
      return toSwitchboardError(error);
    }
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
    const request: CallOrder = {
      name,
      args,
      timeoutMs: options.timeoutMs,
      caller,
      requestId,
    };
    return settleAsPromise((sink) => this.dispatch(request, sink), options.signal);
  }
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
