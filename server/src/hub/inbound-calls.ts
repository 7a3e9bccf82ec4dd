import {
  CLOSE_CODES,
  SwitchboardError,
  dropAnswer,
  emptyMap,
  own,
  type CallFrame,
  type CallerInfo,
  type ErrorCode,
  type ErrorFrame,
  type KeyKind,
  type PeerEngine,
  type ServerToUplinkFrame,
} from '@switchboard/shared';
import type { CallOrder, Dispatcher } from './dispatcher.ts';
import type { CallHandle, CallSink } from './provider.ts';

/**
 * What the calls an uplink makes need of its connection (the connection itself: properties and
 * methods, no closures, as an idle connection holds it for its whole life).
 */
export interface InboundLink {
  /** Answers go out through the connection's protocol engine; args above one frame come in. */
  readonly peer: Pick<PeerEngine<ServerToUplinkFrame>, 'answer' | 'answerFrame' | 'large'>;
  readonly dispatcher: Dispatcher;
  /** Who calls: the uplink, with its key. */
  readonly caller: CallerInfo;
  readonly keyKind: KeyKind | undefined;
  /** Answers can still be sent. */
  readonly isOpen: boolean;
  /**
   * The server is shutting down and this uplink has nothing in hand: a call now is new work,
   * refused so that shutdown is not held up by pollers. (A call from an uplink that is serving
   * something may be part of that work, a handler calling another function, and goes through.)
   */
  readonly refusesNewWork: boolean;
  /** Sends a frame (a refusal). */
  send(frame: ServerToUplinkFrame): void;
  /** A protocol breach: an error frame, then the connection closes with `closeCode`. */
  fail(code: ErrorCode, closeCode: number, message?: string): void;
}

/**
 * The calls one uplink makes, in progress wherever their function lives: dispatched like any
 * call, their outcomes written back as frames; withdrawn when the uplink cancels or leaves.
 */
export class InboundCalls {
  private calls = emptyMap<number, InboundCall>();

  constructor(private readonly link: InboundLink) {}

  get size(): number {
    return this.calls.size;
  }

  accept(frame: CallFrame): void {
    const { link } = this;
    if (this.calls.has(frame.id)) {
      link.fail(
        'SB_ERR_PROTO_BAD_FRAME',
        CLOSE_CODES.PROTOCOL_ERROR,
        `call id ${frame.id} is already in use`,
      );
      return;
    }
    // A name no function can have: answered for this id like any unknown function.
    let refusal = frame.refusal;
    if (refusal === undefined && link.refusesNewWork) {
      refusal = new SwitchboardError(
        'SB_ERR_SERVER_CLOSING',
        'The server is shutting down and takes no new calls',
      ).toWire(false);
    }
    if (refusal !== undefined) {
      if (frame.payload !== undefined) link.peer.large.payload(frame.payload).discard();
      link.send({ type: 'error', id: frame.id, error: refusal });
      return;
    }
    const inbound = new InboundCall(this, frame.id);
    (this.calls = own(this.calls)).set(frame.id, inbound);
    const order: CallOrder = {
      name: frame.name,
      args: frame.args,
      timeoutMs: frame.timeoutMs,
      caller: link.caller,
      requestId: frame.requestId,
      ...(frame.payload === undefined ? {} : { payload: link.peer.large.payload(frame.payload) }),
    };
    const handle = link.dispatcher.dispatch(order, inbound);
    if (this.calls.has(frame.id)) inbound.handle = handle;
  }

  /**
   * Answers call `id`: progressive results are relayed as a stream of ours, a value still
   * arriving from another uplink is forwarded as it comes. Nobody to send to: a value still
   * arriving is dropped, a producer stopped.
   */
  answer(id: number, value: unknown): void {
    if (this.calls.delete(id) && this.link.isOpen) this.link.peer.answer(id, value);
    else dropAnswer(value);
  }

  fail(frame: ErrorFrame & { id: number }): void {
    if (this.calls.delete(frame.id) && this.link.isOpen) this.link.peer.answerFrame(frame);
  }

  /** The uplink no longer wants the answer to its call `id`. */
  cancelled(id: number): void {
    const call = this.calls.get(id);
    if (call === undefined) return;
    this.calls.delete(id);
    call.handle?.cancel();
  }

  /** The uplink is gone: every call it made is cancelled where it runs. */
  cancelAll(): void {
    const calls = [...this.calls.values()];
    this.calls.clear();
    for (const call of calls) call.handle?.cancel();
  }

  /** Only a server key sees a function's stack. */
  get trusted(): boolean {
    return this.link.keyKind === 'server';
  }
}

/** A call the uplink made, in progress somewhere; its outcome is written back as a frame. */
class InboundCall implements CallSink {
  handle: CallHandle | undefined;

  constructor(
    private readonly owner: InboundCalls,
    readonly id: number,
  ) {}

  resolve(value: unknown): void {
    this.owner.answer(this.id, value);
  }

  reject(error: SwitchboardError): void {
    // Only a function's own stack travels, never the server's internals, and only to callers
    // with a server key: a client key is not shown how the other side is built.
    const wire = error.toWire(this.owner.trusted && error.remoteStack !== undefined);
    this.owner.fail({ type: 'error', id: this.id, error: wire });
  }
}
