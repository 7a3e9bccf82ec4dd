import type { ByteSource } from './stream-sender.ts';

/** What a connection does with a payload announced to it. */
export interface StreamedValueOps {
  /** The payload's bytes as they arrive, for forwarding (credit flows as they are taken). */
  relay(): ByteSource;
  /** Collects and decodes the payload (bounded by the connection's message limit). */
  decode(): Promise<unknown>;
  /** Nobody wants it: stop the sender, and a collection under way (its promise rejects). */
  discard(): void;
}

/**
 * A call's args or a result's value still on its way as a stream (see `StreamedPayload`):
 * forwarded to another uplink without being held, or decoded where the value is needed (app
 * code, an in-process function, an HTTP caller). Relayed or decoded exactly once; `discard()`
 * stops it whenever nobody wants it any more (before use, or while it is being collected).
 */
export class StreamedValue {
  private state: 'new' | 'relayed' | 'decoding' | 'done' = 'new';

  constructor(
    /** Encoded size, as announced. */
    readonly bytes: number,
    private readonly ops: StreamedValueOps,
  ) {}

  relay(): ByteSource {
    this.use('relayed');
    return this.ops.relay();
  }

  decode(): Promise<unknown> {
    this.use('decoding');
    return this.ops.decode().finally(() => (this.state = 'done'));
  }

  /** A relayed stream is left to its consumer, which stops it by ending its read. */
  discard(): void {
    if (this.state !== 'new' && this.state !== 'decoding') return;
    this.state = 'done';
    this.ops.discard();
  }

  private use(next: 'relayed' | 'decoding'): void {
    if (this.state !== 'new') throw new Error('A streamed value can be used only once');
    this.state = next;
  }
}
