import {
  CallScope,
  SwitchboardError,
  handlerErrorToWire,
  invokeWith,
  serveHttpWith,
  type CallFrame,
  type EndpointHandler,
  type RequestFrame,
  type WireError,
} from '@switchboard/shared';

/** A function this uplink serves. */
export type UplinkFunction = (...args: never[]) => unknown;

/** How the executor reports an outcome; the owner turns it into a result or error frame. */
export interface Answer {
  result(id: number, value: unknown): void;
  error(id: number, error: WireError): void;
}

class IncomingCall {
  readonly scope: CallScope;
  cancelled = false;

  constructor(readonly frame: CallFrame | RequestFrame) {
    const name = frame.type === 'call' ? frame.name : frame.endpoint;
    const deadline = frame.timeoutMs === undefined ? undefined : Date.now() + frame.timeoutMs;
    this.scope = new CallScope(name, frame.caller ?? { kind: 'app' }, deadline);
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

  constructor(
    private readonly functions: ReadonlyMap<string, UplinkFunction>,
    private readonly endpoints: ReadonlyMap<string, EndpointHandler>,
    private readonly answer: Answer,
    private readonly maxConcurrent: number,
  ) {}

  accept(frame: CallFrame | RequestFrame): void {
    if (this.calls.has(frame.id)) return; // the server never reuses a live id; ignore a duplicate
    const call = new IncomingCall(frame);
    this.calls.set(frame.id, call);
    if (this.running < this.maxConcurrent) this.run(call);
    else this.queue.push(call);
  }

  /** The server withdrew the call: fire its signal and never answer it. */
  cancel(id: number, reason: SwitchboardError): void {
    const call = this.calls.get(id);
    if (call === undefined) return;
    this.calls.delete(id);
    call.cancelled = true;
    call.scope.abort(reason);
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
    if (frame.type === 'call') invokeWith(scope, fn, frame.args, settle);
    else serveHttpWith(scope, fn as EndpointHandler, frame.request, settle);
  }

  /** `outcome` is the value when `ok`, else what was thrown (which may be any value). */
  private finish(call: IncomingCall, ok: boolean, outcome: unknown): void {
    this.running--;
    if (!call.cancelled) {
      this.calls.delete(call.frame.id);
      if (ok) this.answer.result(call.frame.id, outcome);
      else this.answer.error(call.frame.id, handlerErrorToWire(outcome));
    }
    this.drain();
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
