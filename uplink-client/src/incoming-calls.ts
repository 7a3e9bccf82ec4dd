import {
  CallScope,
  SwitchboardError,
  handlerErrorToWire,
  invokeWith,
  serveHttpWith,
  type CallFrame,
  type EndpointHandler,
  ValueStream,
  inCallContext,
  isValueSource,
  type IncomingStream,
  type LocalHttpRequest,
  type MappedResponse,
  type RequestFrame,
  type StreamedValue,
  toSwitchboardError,
  type ErrorFrame,
  type PeerEngine,
  type ResultFrame,
  type StreamOutcome,
  type StreamedPayload,
  type UplinkToServerFrame,
  taskContextOf,
} from '@switchboard/shared';
import { performance } from 'node:perf_hooks';
import type { UplinkLogger } from './logger.ts';

/** A function this uplink serves. */
export type UplinkFunction = (...args: never[]) => unknown;

/** Where the executor's answers go. */
export interface Answer {
  /**
   * The uplink's protocol engine: streams both ways (answer bodies and value streams out,
   * request bodies in) and payloads (a call's args above one frame).
   */
  readonly peer: Pick<PeerEngine<UplinkToServerFrame>, 'sender' | 'receiver' | 'large'>;
  /** Sends the answer to call `id`. */
  reply(frame: ResultFrame | (ErrorFrame & { id: number })): void;
  /** Stores a background task's state on the server (`sb.tasks.setState`). */
  setTaskState(task: string, state: unknown): Promise<void>;
}

class IncomingCall {
  readonly scope: CallScope;
  cancelled = false;
  /** The stream carrying the answer's body, while it is being sent. */
  streamId: number | undefined;
  /** The request body the server streams, while it may still arrive. */
  body: IncomingStream | undefined;
  /** A function call's arguments (collected first when they came as a payload). */
  args: unknown[];
  /** Arguments still being collected. */
  payload: StreamedValue | undefined;
  /** When it arrived (performance.now()), only kept when there is a logger. */
  arrivedAt = 0;

  constructor(readonly frame: CallFrame | RequestFrame) {
    this.args = frame.type === 'call' ? frame.args : [];
    const name = frame.type === 'call' ? frame.name : frame.endpoint;
    const deadline = frame.timeoutMs === undefined ? undefined : Date.now() + frame.timeoutMs;
    this.scope = new CallScope(name, frame.caller ?? { kind: 'app' }, deadline);
    this.scope.requestId = frame.requestId;
  }

  /** Log fields naming the call: its request id and what was called. */
  fields(): Record<string, unknown> {
    const { frame, scope } = this;
    return frame.type === 'call'
      ? { reqId: scope.requestId, function: scope.name }
      : { reqId: scope.requestId, endpoint: scope.name, method: frame.request.method };
  }
}

/**
 * Runs the calls the server sends to this uplink: up to `maxConcurrent` at once, the rest in
 * arrival order; each inside its call context, with a signal that fires on cancel.
 */
export class IncomingCalls {
  private readonly calls = new Map<number, IncomingCall>();
  private readonly queue: IncomingCall[] = [];
  private running = 0;
  private draining = false;
  /** Set by the owner when it logs: each call's outcome is logged with its request id. */
  logger: UplinkLogger | undefined;

  constructor(
    private readonly functions: ReadonlyMap<string, UplinkFunction>,
    private readonly endpoints: ReadonlyMap<string, EndpointHandler>,
    private readonly answer: Answer,
    private readonly maxConcurrent: number,
  ) {}

  /** Calls accepted and not yet finished (queued, running, or streaming their answer). */
  get size(): number {
    return this.calls.size;
  }

  accept(frame: CallFrame | RequestFrame): void {
    if (this.calls.has(frame.id)) return; // the server never reuses a live id; ignore a duplicate
    const call = new IncomingCall(frame);
    if (this.logger !== undefined) call.arrivedAt = performance.now();
    const task = frame.type === 'call' ? frame.task : undefined;
    if (task !== undefined)
      call.scope.task = taskContextOf(call.scope, task, (state) =>
        this.answer.setTaskState(task, state),
      );
    // Its body starts arriving now, even if the call waits for a slot: hold it (one window).
    if (frame.type === 'request' && frame.request.bodyStream !== undefined)
      call.body = this.answer.peer.receiver.open(frame.request.bodyStream);
    this.calls.set(frame.id, call);
    if (frame.type === 'call' && frame.payload !== undefined) this.collectArgs(call, frame.payload);
    else this.schedule(call);
  }

  private schedule(call: IncomingCall): void {
    if (this.running < this.maxConcurrent) this.run(call);
    else this.queue.push(call);
  }

  /** Arguments above one frame arrive as a stream: the call waits for them, then for a slot. */
  private collectArgs(call: IncomingCall, payload: StreamedPayload): void {
    call.payload = this.answer.peer.large.payload(payload);
    call.payload.decode().then(
      (args) => {
        call.payload = undefined;
        if (call.cancelled) return;
        if (!Array.isArray(args)) {
          this.refuse(
            call,
            new SwitchboardError('SB_ERR_PROTO_BAD_FRAME', 'call args must be an array'),
          );
          return;
        }
        call.args = args;
        this.schedule(call);
      },
      (error: unknown) => {
        call.payload = undefined;
        if (!call.cancelled) this.refuse(call, toSwitchboardError(error));
      },
    );
  }

  /** Answers a call that never ran with `error`. */
  private refuse(call: IncomingCall, error: SwitchboardError): void {
    this.calls.delete(call.frame.id);
    this.answer.reply({ type: 'error', id: call.frame.id, error: error.toWire(false) });
  }

  /** The server withdrew the call: fire its signal and never answer it. */
  cancel(id: number, reason: SwitchboardError): void {
    const call = this.calls.get(id);
    if (call === undefined) return;
    this.calls.delete(id);
    call.cancelled = true;
    this.logger?.debug({ ...call.fields(), code: reason.code }, 'call cancelled');
    call.scope.abort(reason);
    call.body?.abort();
    call.payload?.discard();
    if (call.streamId !== undefined) this.answer.peer.sender.abort(call.streamId);
  }

  /** The connection is gone: every call's signal fires; answers would have nowhere to go. */
  cancelAll(reason: SwitchboardError): void {
    for (const id of [...this.calls.keys()]) this.cancel(id, reason);
    this.queue.length = 0;
  }

  private run(call: IncomingCall): void {
    this.running++;
    const { frame, scope } = call;
    const { name } = scope;
    const fn = frame.type === 'call' ? this.functions.get(name) : this.endpoints.get(name);
    if (fn === undefined) {
      this.finish(
        call,
        false,
        new SwitchboardError('SB_ERR_NO_SUCH_FUNCTION', `This uplink does not serve ${name}`),
      );
      return;
    }
    const settle = (ok: boolean, outcome: unknown) => this.finish(call, ok, outcome);
    if (frame.type === 'call') invokeWith(scope, fn, call.args, settle);
    else serveHttpWith(scope, fn as EndpointHandler, this.withBody(call, frame.request), settle);
  }

  /** `outcome` is the value when `ok`, else what was thrown (which may be any value). */
  private finish(call: IncomingCall, ok: boolean, outcome: unknown): void {
    const { id } = call.frame;
    const { frame } = call;
    if (!call.cancelled && this.logger !== undefined) this.log(this.logger, call, ok, outcome);
    if (
      !call.cancelled &&
      ok &&
      frame.type === 'request' &&
      (outcome as MappedResponse).source !== undefined
    ) {
      this.stream(call, outcome as MappedResponse); // may still be reading the request body
      return;
    }
    if (!call.cancelled && ok && frame.type === 'call' && isValueSource(outcome)) {
      this.streamValues(call, outcome);
      return;
    }
    call.body?.abort(); // a body the handler did not read to the end is not wanted any more
    this.running--;
    if (!call.cancelled) {
      this.calls.delete(id);
      if (ok) this.answer.reply({ type: 'result', id, value: outcome });
      else this.answer.reply({ type: 'error', id, error: handlerErrorToWire(outcome) });
    } else if (ok) discard(outcome); // nobody will read what it returned: release it
    this.drain();
  }

  private log(logger: UplinkLogger, call: IncomingCall, ok: boolean, outcome: unknown): void {
    const ms = Math.round((performance.now() - call.arrivedAt) * 1000) / 1000;
    if (ok) {
      logger.debug({ ...call.fields(), ms }, 'call served');
      return;
    }
    const error = handlerErrorToWire(outcome);
    logger.warn(
      { ...call.fields(), ms, code: error.code, type: error.type, reason: error.message },
      'call failed',
    );
  }

  /** A function that returns an async iterable: its parts go out as a value stream. */
  private streamValues(call: IncomingCall, parts: AsyncIterable<unknown>): void {
    const { id } = call.frame;
    call.streamId = this.answer.peer.sender.start(
      ValueStream.fromValues(inCallContext(call.scope, parts)).raw(),
      (end) => this.streamEnded(call, end),
      true,
    );
    this.answer.reply({ type: 'result', id, stream: call.streamId });
  }

  private streamEnded(call: IncomingCall, end: StreamOutcome): void {
    const { id } = call.frame;
    call.streamId = undefined;
    call.body?.abort();
    if (this.calls.get(id) === call) this.calls.delete(id);
    if (end === 'aborted') call.scope.abort(new SwitchboardError('SB_ERR_CALL_CANCELLED'));
    this.running--;
    this.drain();
  }

  /** A request whose body the server streams: the handler reads it as an async iterable. */
  private withBody(call: IncomingCall, request: RequestFrame['request']): LocalHttpRequest {
    if (call.body === undefined) return request;
    return { ...request, bodySource: call.body.readable() };
  }

  /**
   * A streamed HTTP body: the answer names the stream, whose chunks follow. The call keeps its
   * slot until the stream ends; when the receiver aborts it (the HTTP client went away), the
   * handler's signal fires and the source is no longer pulled.
   */
  private stream(call: IncomingCall, response: MappedResponse): void {
    const { id } = call.frame;
    const { source, ...head } = response;
    call.streamId = this.answer.peer.sender.start(inCallContext(call.scope, source!), (end) =>
      this.streamEnded(call, end),
    );
    this.answer.reply({ type: 'result', id, value: { ...head, stream: call.streamId } });
  }

  /** Starts queued calls while there is room; re-entry (a call that finished synchronously) is a no-op. */
  private drain(): void {
    if (this.draining) return;
    this.draining = true;
    try {
      while (this.running < this.maxConcurrent && this.queue.length > 0) {
        const next = this.queue.shift()!;
        if (!next.cancelled) this.run(next);
      }
    } finally {
      this.draining = false;
    }
  }
}

/** Stops a body or parts source nobody will read (closes files, ends generators). */
function discard(outcome: unknown): void {
  const source = (outcome as MappedResponse | null)?.source ?? outcome;
  if (!isValueSource(source)) return;
  const destroy = (source as { destroy?: unknown }).destroy;
  if (typeof destroy === 'function') (destroy as () => void).call(source);
  else
    void source[Symbol.asyncIterator]()
      .return?.()
      ?.catch(() => undefined);
}
