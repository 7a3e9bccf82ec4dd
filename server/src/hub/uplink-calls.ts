import {
  type PeerCall,
  type StreamedValue,
  type SwitchboardError,
  type ErrorFrame,
  type KeyKind,
} from '@switchboard/shared';
import type { CallHandle, CallSink } from './provider.ts';

/** What a call to the uplink needs from its connection. */
export interface OutboundOwner {
  cancelOutbound(id: number): void;
  /** An HTTP answer announcing a streamed body gets the stream itself in its place. */
  withStream(value: unknown): unknown;
}

/** A call or HTTP request this server sent to the uplink and awaits an answer for. */
export class OutboundCall implements PeerCall, CallHandle {
  readonly sent = true;
  /** An HTTP request: its answer is decoded here, and may announce a streamed body. */
  isRequest = false;
  /** The stream carrying its request body or its args, while it may still be sent. */
  outgoingStream: number | undefined;
  /** Its answer above one frame, being collected while the call waits for it. */
  answer: StreamedValue | undefined;

  constructor(
    private readonly owner: OutboundOwner,
    readonly id: number,
    readonly sink: CallSink,
    readonly deadlineAt: number,
  ) {}

  get decodesLargeAnswer(): boolean {
    return this.isRequest;
  }

  resolve(value: unknown): void {
    this.sink.resolve(this.isRequest ? this.owner.withStream(value) : value);
  }

  reject(error: SwitchboardError): void {
    this.sink.reject(error);
  }

  cancel(): void {
    this.owner.cancelOutbound(this.id);
  }
}

/** What a call the uplink made needs from its connection. */
export interface InboundOwner {
  /** The key kind of the uplink: only a server key sees a function's stack. */
  readonly keyKind: KeyKind | undefined;
  /** Answers the uplink's call `id` with `value`, if the call is still wanted. */
  answerInbound(id: number, value: unknown): void;
  /** Answers the uplink's call `id` with an error, if the call is still wanted. */
  failInbound(frame: ErrorFrame & { id: number }): void;
}

/** A call the uplink made, in progress somewhere; its outcome is written back as a frame. */
export class InboundCall implements CallSink {
  handle: CallHandle | undefined;

  constructor(
    private readonly owner: InboundOwner,
    readonly id: number,
  ) {}

  resolve(value: unknown): void {
    this.owner.answerInbound(this.id, value);
  }

  reject(error: SwitchboardError): void {
    // Only a function's own stack travels, never the server's internals, and only to callers
    // with a server key: a client key is not shown how the other side is built.
    const trusted = this.owner.keyKind === 'server';
    const wire = error.toWire(trusted && error.remoteStack !== undefined);
    this.owner.failInbound({ type: 'error', id: this.id, error: wire });
  }
}
