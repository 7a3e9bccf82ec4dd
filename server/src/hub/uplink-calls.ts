import {
  StreamedValue,
  ValueStream,
  type PendingEntry,
  type SwitchboardError,
} from '@switchboard/shared';
import type { CallHandle, CallSink } from './provider.ts';
import type { UplinkConnection } from './uplink-connection.ts';

/** A call this server sent to the uplink and awaits an answer for. */
export class OutboundCall implements PendingEntry, CallHandle {
  /** An HTTP request: its answer may announce a streamed body. */
  isRequest = false;
  /** The stream carrying its request body or its args, while it may still be sent. */
  bodyStream: number | undefined;
  /** An HTTP answer above one frame being collected, while the call waits for it. */
  answer: StreamedValue | undefined;

  constructor(
    readonly connection: UplinkConnection,
    readonly id: number,
    readonly sink: CallSink,
    readonly deadlineAt: number,
  ) {}

  cancel(): void {
    this.connection.cancelOutbound(this.id);
  }
}

/** A call the uplink made, in progress somewhere; its outcome is written back as a frame. */
export class InboundCall implements CallSink {
  handle: CallHandle | undefined;

  constructor(
    readonly connection: UplinkConnection,
    readonly id: number,
  ) {}

  resolve(value: unknown): void {
    if (value instanceof ValueStream) this.connection.answerInboundStream(this.id, value);
    else if (value instanceof StreamedValue) this.connection.answerInboundPayload(this.id, value);
    else this.connection.answerInbound(this.id, { type: 'result', id: this.id, value });
  }

  reject(error: SwitchboardError): void {
    // Only a function's own stack travels, never the server's internals, and only to callers
    // with a server key: a client key is not shown how the other side is built.
    const trusted = this.connection.key?.kind === 'server';
    const wire = error.toWire(trusted && error.remoteStack !== undefined);
    this.connection.answerInbound(this.id, { type: 'error', id: this.id, error: wire });
  }
}
