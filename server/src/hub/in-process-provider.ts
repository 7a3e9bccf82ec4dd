import { performance } from 'node:perf_hooks';
import {
  CallScope,
  LocalStream,
  ValueStream,
  inCallContext,
  isValueSource,
  type MappedResponse,
  PendingCalls,
  SwitchboardError,
  handlerErrorToWire,
  invokeWith,
  serveHttpWith,
  taskContextOf,
  type EndpointHandler,
  type PendingEntry,
} from '@switchboard/shared';
import {
  NOOP_HANDLE,
  type CallHandle,
  type CallRequest,
  type CallSink,
  type Provider,
} from './provider.ts';
import { startWithDecodedArgs } from './decoded-args.ts';

/** A function registered by app code inside the server process. */
export type AppFunction = (...args: never[]) => unknown;

class InProcessCall implements PendingEntry, CallHandle {
  readonly deadlineAt: number;

  constructor(
    readonly owner: InProcessProvider,
    readonly id: number,
    readonly sink: CallSink,
    readonly scope: CallScope,
  ) {
    this.deadlineAt = performance.now() + ((scope.deadline ?? Infinity) - Date.now());
  }

  cancel(): void {
    this.owner.settle(this.id, new SwitchboardError('SB_ERR_CALL_CANCELLED'));
  }
}

/**
 * Runs functions registered by app code in the server process, with the same semantics as
 * uplink functions: call context, deadline with an aborted signal, in-flight accounting.
 */
export class InProcessProvider implements Provider {
  readonly providerId = 'app';
  private closed = false;
  private readonly functions = new Map<string, AppFunction>();
  private readonly endpoints = new Map<string, EndpointHandler>();
  private readonly pending = new PendingCalls<InProcessCall>({
    expired(_id, call) {
      const error = new SwitchboardError('SB_ERR_CALL_TIMEOUT');
      call.scope.abort(error);
      call.sink.reject(error);
    },
  });

  get inFlight(): number {
    return this.pending.size;
  }

  get accepting(): boolean {
    return !this.closed;
  }

  set(name: string, fn: AppFunction): void {
    this.functions.set(name, fn);
  }

  get(name: string): AppFunction | undefined {
    return this.functions.get(name);
  }

  delete(name: string): void {
    this.functions.delete(name);
  }

  setEndpoint(pattern: string, handler: EndpointHandler): void {
    this.endpoints.set(pattern, handler);
  }

  deleteEndpoint(pattern: string): void {
    this.endpoints.delete(pattern);
  }

  start(request: CallRequest, sink: CallSink): CallHandle {
    // A function here needs its args whole.
    if (request.payload !== undefined)
      return startWithDecodedArgs(request, sink, (decoded, to) => this.start(decoded, to));
    const { http } = request;
    if (http?.bodyChunks !== undefined) {
      // So does a handler its body: the chunks the door kept it in are joined and let go (the
      // request is this call's own).
      http.body = Buffer.concat(http.bodyChunks);
      http.bodyChunks = undefined;
    }
    const fn =
      http === undefined ? this.functions.get(request.name) : this.endpoints.get(request.name);
    if (fn === undefined) {
      sink.reject(new SwitchboardError('SB_ERR_NO_SUCH_FUNCTION'));
      return NOOP_HANDLE;
    }
    const id = this.pending.allocateId();
    const { timeoutMs, task } = request;
    const deadline = timeoutMs === Infinity ? undefined : Date.now() + timeoutMs;
    const scope = new CallScope(request.name, request.caller, deadline);
    scope.requestId = request.requestId;
    if (task !== undefined) scope.task = taskContextOf(scope, task.id, (v) => task.setState(v));
    const call = new InProcessCall(this, id, sink, scope);
    this.pending.add(id, call);
    // `outcome` is the value when `ok`, else what was thrown (which may be any value).
    const settle = (ok: boolean, outcome: unknown) =>
      ok ? this.settle(id, undefined, outcome) : this.settle(id, asRemote(outcome));
    // May settle before returning (a synchronous function); callers check for that.
    if (http === undefined) invokeWith(scope, fn, request.args, settle);
    else serveHttpWith(scope, fn as EndpointHandler, http, settle);
    return call;
  }

  /** Settles call `id` once; later outcomes (after timeout or cancel) are dropped. */
  settle(id: number, error: SwitchboardError | undefined, value?: unknown): void {
    const call = this.pending.take(id);
    if (call === undefined) return;
    if (error === undefined) call.sink.resolve(withLocalStreams(value, call.scope));
    else {
      if (error.code === 'SB_ERR_CALL_CANCELLED') call.scope.abort(error);
      call.sink.reject(error);
    }
  }

  close(): void {
    this.closed = true;
    for (const [, call] of this.pending.drain()) {
      const error = new SwitchboardError('SB_ERR_SERVER_CLOSING');
      call.scope.abort(error);
      call.sink.reject(error);
    }
    this.pending.dispose();
  }
}

/**
 * An app endpoint's streamed body (`source`) becomes a stream the door pulls as it writes; an
 * app function's async iterable becomes its progressive results. When the reader goes away the
 * handler's signal fires.
 */
function withLocalStreams(value: unknown, scope: CallScope): unknown {
  if (scope.request === undefined) {
    // A function call (endpoint handlers run with their request in scope).
    return isValueSource(value)
      ? ValueStream.fromValues(watched(inCallContext(scope, value), () => cancelled(scope)))
      : value;
  }
  if ((value as MappedResponse).source === undefined) return value;
  const { source, ...head } = value as MappedResponse;
  return {
    ...head,
    stream: new LocalStream(inCallContext(scope, source!), () => cancelled(scope)),
  };
}

function cancelled(scope: CallScope): void {
  scope.abort(new SwitchboardError('SB_ERR_CALL_CANCELLED'));
}

/** Yields `values`; when the reader stops before the end, `stopped` runs (the signal fires). */
async function* watched(
  values: AsyncIterable<unknown>,
  stopped: () => void,
): AsyncGenerator<unknown> {
  let complete = false;
  try {
    yield* values;
    complete = true;
  } finally {
    if (!complete) stopped();
  }
}

/** An app function's exception, in the same shape an uplink's would arrive. */
function asRemote(error: unknown): SwitchboardError {
  if (error instanceof SwitchboardError) return error;
  return SwitchboardError.fromWire(handlerErrorToWire(error));
}
