import type { ByteSource } from './stream-sender.ts';

/** What a connection does with a payload announced to it. */
export interface StreamedValueOps {
  /** The payload's bytes as they arrive, for forwarding (credit flows as they are taken). */
  relay(): ByteSource;
  /** Collects and decodes the payload (bounded by the connection's message limit). */
  decode(): Promise<unknown>;
  /** Nobody wants it: stop the sender. */
  discard(): void;
}

/**
 * A call's args or a result's value still on its way as a stream (see `StreamedPayload`):
 * forwarded to another uplink without being held, or decoded where the value is needed (app
 * code, an in-process function, an HTTP caller). Used exactly once, by one of the three.
 */
export class StreamedValue {
  private used = false;

  constructor(
    /** Encoded size, as announced. */
    readonly bytes: number,
    private readonly ops: StreamedValueOps,
  ) {}

  relay(): ByteSource {
    this.use();
    return this.ops.relay();
  }

  decode(): Promise<unknown> {
    this.use();
    return this.ops.decode();
  }

  discard(): void {
    if (this.used) return;
    this.used = true;
    this.ops.discard();
  }

  private use(): void {
    if (this.used) throw new Error('A streamed value can be used only once');
    this.used = true;
  }
}
