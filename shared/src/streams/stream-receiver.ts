import { emptyMap, own } from '../collections/empty-until-used.ts';
import { SwitchboardError } from '../errors/switchboard-error.ts';
import type { AbortFrame, ChunkFrame, CreditFrame, EndFrame } from '../protocol/frames.ts';
import type { FrameOut } from './frame-out.ts';
import { StreamQueue, type StreamTarget } from './stream-queue.ts';

export type { StreamTarget } from './stream-queue.ts';

/** Streams one side may have open towards the other at once. */
export const DEFAULT_MAX_STREAMS = 1024;

/** One stream being received: credit goes back only for bytes its target has flushed. */
export class IncomingStream {
  private target: StreamTarget | undefined;
  /** Chunks that arrived before a target was attached (at most one window). */
  private early: Uint8Array[] = [];
  private earlyEnd: { error?: SwitchboardError } | undefined;
  /** Flushed bytes not yet credited back; sent in batches of half a window. */
  private unacknowledged = 0;
  /** Bytes handed to the target and not yet flushed. */
  private unflushed = 0;
  /** Bytes received and not yet credited back: the sender may never exceed one window. */
  private outstanding = 0;
  private stallTimer: NodeJS.Timeout | undefined;
  finished = false;

  constructor(
    readonly id: number,
    private readonly receiver: StreamReceiver,
  ) {}

  /** Attaches a queue and returns it: the stream as an async iterable (see StreamQueue). */
  readable(): StreamQueue {
    const queue = new StreamQueue(() => this.abort());
    this.attach(queue);
    return queue;
  }

  attach(target: StreamTarget): void {
    this.target = target;
    for (const data of this.early.splice(0)) this.deliver(data);
    const ended = this.earlyEnd;
    if (ended !== undefined) {
      this.earlyEnd = undefined;
      if (!this.finished) this.close();
      if (ended.error === undefined) target.end();
      else target.fail(ended.error);
    } else if (!this.finished) this.armStallTimer();
  }

  /**
   * The consumer wants no more: tell the sender to stop. With `error`, the stream is refused
   * (the `abort` frame carries it) and its target fails with it.
   */
  abort(error?: SwitchboardError): void {
    if (this.finished) return;
    this.close();
    this.receiver.out.send(
      error === undefined
        ? { type: 'abort', stream: this.id }
        : { type: 'abort', stream: this.id, error: error.toWire(false) },
    );
    if (error === undefined) return;
    if (this.target === undefined) this.earlyEnd = { error };
    else this.target.fail(error);
  }

  /** @internal */
  chunk(data: Uint8Array): void {
    if (this.finished) return;
    // A byte stream's sender never has more than one window uncredited. A value stream's part
    // is one chunk, never split, so it may start while any credit is left and overdraw it once.
    const window = this.receiver.window;
    const overrun =
      this.target?.wholeChunks === true
        ? this.outstanding >= window
        : this.outstanding + data.byteLength > window;
    if (overrun) {
      this.abort(
        new SwitchboardError(
          'SB_ERR_STREAM_CREDIT_EXCEEDED',
          `Stream ${this.id} sent ${this.outstanding + data.byteLength} bytes with ${window} credited`,
        ),
      );
      return;
    }
    this.outstanding += data.byteLength;
    if (this.target === undefined) this.early.push(data);
    else this.deliver(data);
  }

  /** @internal */
  finish(error?: SwitchboardError): void {
    if (this.finished) return;
    if (this.target === undefined) {
      this.earlyEnd = error === undefined ? {} : { error };
      return;
    }
    this.close();
    if (error === undefined) this.target.end();
    else this.target.fail(error);
  }

  private deliver(data: Uint8Array): void {
    this.unflushed += data.byteLength;
    this.armStallTimer(); // progress
    this.target!.write(data, () => {
      this.unflushed -= data.byteLength;
      if (this.finished) return;
      this.unacknowledged += data.byteLength;
      if (this.unacknowledged >= this.receiver.window / 2 || this.unflushed === 0) {
        this.receiver.out.send({ type: 'credit', stream: this.id, bytes: this.unacknowledged });
        this.outstanding -= this.unacknowledged;
        this.unacknowledged = 0;
      }
      this.armStallTimer(); // progress
    });
  }

  /**
   * Fires when nothing moved for the stall timeout: neither a chunk from the sender nor bytes
   * taken by the reader. Covers a producer that stopped and a reader that stopped reading (an
   * HTTP client that never reads would otherwise hold the producer's call slot forever).
   */
  private armStallTimer(): void {
    this.clearStallTimer();
    const ms = this.receiver.stallTimeoutMs;
    this.stallTimer = setTimeout(() => {
      if (this.finished) return;
      const error = new SwitchboardError(
        'SB_ERR_STREAM_STALLED',
        `Nothing moved on stream ${this.id} for ${ms} ms`,
      );
      this.receiver.out.send({ type: 'abort', stream: this.id, error: error.toWire(false) });
      this.finish(error);
    }, ms);
    this.stallTimer.unref();
  }

  private clearStallTimer(): void {
    if (this.stallTimer !== undefined) clearTimeout(this.stallTimer);
    this.stallTimer = undefined;
  }

  private close(): void {
    this.finished = true;
    this.early = [];
    this.clearStallTimer();
    this.receiver.forget(this.id);
  }
}

/**
 * The streams one side of a connection receives. Chunks for an id with no stream (aborted,
 * finished) are dropped; a stream whose sender goes beyond its credit is refused (`abort` with
 * SB_ERR_STREAM_CREDIT_EXCEEDED, its target fails with it); the connection stays open.
 */
export class StreamReceiver {
  private streams = emptyMap<number, IncomingStream>();

  constructor(
    /** Sends credit and abort frames to the peer. */
    readonly out: FrameOut<CreditFrame | AbortFrame>,
    /** The window granted per stream (what the sender may have unacknowledged). */
    public window: number,
    readonly stallTimeoutMs: number,
    readonly maxStreams = DEFAULT_MAX_STREAMS,
  ) {}

  get size(): number {
    return this.streams.size;
  }

  /** The window both sides use, learned from welcome (streams opened from now on). */
  setWindow(window: number): void {
    this.window = window;
  }

  /**
   * Expects stream `id` from the peer (announced in an answer) and returns it. Beyond
   * `maxStreams` open streams, the new one is refused at once (`abort`; its target sees
   * SB_ERR_STREAM_LIMIT), so a peer cannot pin unbounded memory with streams it never ends.
   */
  open(id: number): IncomingStream {
    const existing = this.streams.get(id);
    if (existing !== undefined) return existing;
    const stream = new IncomingStream(id, this);
    (this.streams = own(this.streams)).set(id, stream);
    if (this.streams.size > this.maxStreams) {
      const error = new SwitchboardError(
        'SB_ERR_STREAM_LIMIT',
        `More than ${this.maxStreams} streams open on one connection`,
      );
      this.out.send({ type: 'abort', stream: id, error: error.toWire(false) });
      stream.finish(error);
      this.streams.delete(id);
    }
    return stream;
  }

  has(id: number): boolean {
    return this.streams.has(id);
  }

  received(frame: ChunkFrame | EndFrame): void {
    const stream = this.streams.get(frame.stream);
    if (stream === undefined) return;
    if (frame.type === 'chunk') stream.chunk(frame.data);
    else
      stream.finish(frame.error === undefined ? undefined : SwitchboardError.fromWire(frame.error));
  }

  /** The connection is gone: every stream breaks off with `error`. */
  failAll(error: SwitchboardError): void {
    for (const stream of [...this.streams.values()]) stream.finish(error);
    this.streams.clear();
  }

  /** @internal */
  forget(id: number): void {
    this.streams.delete(id);
  }
}
