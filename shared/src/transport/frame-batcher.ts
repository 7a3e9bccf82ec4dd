import { SwitchboardError } from '../errors/switchboard-error.ts';

/**
 * Collects the frames encoded during one turn of the event loop and writes them as one
 * WebSocket message (frames are concatenated MessagePack values), so a burst of results costs
 * one `socket.write` instead of one per frame. A message never exceeds `maxBytes`.
 */
export class FrameBatcher {
  private queue: Buffer[] = [];
  private queuedBytes = 0;
  private scheduled: NodeJS.Immediate | undefined;
  private readonly flushBound = (): void => this.flush();

  constructor(
    private readonly write: (message: Buffer) => void,
    private maxBytes: number,
  ) {}

  /** The peer's limit, learned from hello/welcome. */
  setMaxBytes(maxBytes: number): void {
    this.maxBytes = maxBytes;
  }

  /** Throws SB_ERR_PROTO_FRAME_TOO_LARGE (nothing queued) when the frame alone is too big. */
  push(frame: Buffer): void {
    if (frame.byteLength > this.maxBytes) {
      throw new SwitchboardError(
        'SB_ERR_PROTO_FRAME_TOO_LARGE',
        `Frame of ${frame.byteLength} bytes exceeds the peer's limit of ${this.maxBytes} bytes`,
      );
    }
    if (this.queuedBytes + frame.byteLength > this.maxBytes) this.flush();
    this.queue.push(frame);
    this.queuedBytes += frame.byteLength;
    this.scheduled ??= setImmediate(this.flushBound);
  }

  flush(): void {
    if (this.scheduled !== undefined) {
      clearImmediate(this.scheduled);
      this.scheduled = undefined;
    }
    if (this.queue.length === 0) return;
    const message =
      this.queue.length === 1 ? this.queue[0]! : Buffer.concat(this.queue, this.queuedBytes);
    this.queue = [];
    this.queuedBytes = 0;
    this.write(message);
  }

  /** Drops anything queued (the connection is gone). */
  clear(): void {
    if (this.scheduled !== undefined) clearImmediate(this.scheduled);
    this.scheduled = undefined;
    this.queue = [];
    this.queuedBytes = 0;
  }
}
