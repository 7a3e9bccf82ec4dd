import { emptyMap, own } from '../collections/empty-until-used.ts';
import { handlerErrorToWire } from '../errors/switchboard-error.ts';
import type { ChunkFrame, EndFrame } from '../protocol/frames.ts';
import type { FrameOut } from './frame-out.ts';

/** Default credit per stream: 1 MiB may be in flight before the receiver acknowledges. */
export const DEFAULT_STREAM_WINDOW_BYTES = 1024 * 1024;

/**
 * Largest `data` of one chunk frame (less when the peer's frame limit is lower). Measured with
 * `npm run bench:large`: 256 KiB moved about 1.3× the MiB/s of 64 KiB; the window size (1 vs
 * 4 MiB) made no difference.
 */
export const MAX_CHUNK_BYTES = 256 * 1024;
/** Room for a chunk frame's own fields around its data. */
const CHUNK_FRAME_OVERHEAD = 64;

/** What a stream is read from: bytes, or strings (sent as UTF-8). */
export type ByteSource = AsyncIterable<Uint8Array | string>;

/** How a stream ended, for its owner (e.g. to finish the call that produced it). */
export type StreamOutcome = 'ended' | 'failed' | 'aborted';

class OutgoingStream {
  credit: number;
  stopped = false;
  private wake: (() => void) | undefined;
  /** Ends a pending `next()` wait at once when stopped (the source may not settle for long). */
  private onStop: (() => void) | undefined;
  private iterator: AsyncIterator<Uint8Array | string> | undefined;

  constructor(
    readonly id: number,
    private readonly sender: StreamSender,
    window: number,
    /** Each item is one whole chunk (an encoded value), never split. */
    private readonly whole: boolean,
  ) {
    this.credit = window;
  }

  grant(bytes: number): void {
    this.credit += bytes;
    this.resume();
  }

  stop(): void {
    if (this.stopped) return;
    this.stopped = true;
    this.resume();
    this.onStop?.();
    // Lets a generator run its `finally` (close files, stop producing); errors are moot now.
    this.iterator?.return?.().catch(() => undefined);
  }

  /** Reads the source and sends it, never more than the receiver's credit ahead. */
  async pump(source: ByteSource): Promise<StreamOutcome> {
    try {
      this.iterator = source[Symbol.asyncIterator]();
      for (;;) {
        await this.until(() => this.credit > 0);
        if (this.stopped) return 'aborted';
        const next = await this.nextOrStop(this.iterator);
        if (next === undefined || this.stopped) return 'aborted';
        if (next.done === true) {
          this.sender.emit({ type: 'end', stream: this.id });
          return 'ended';
        }
        const value = next.value;
        let bytes = typeof value === 'string' ? Buffer.from(value, 'utf8') : toBuffer(value);
        if (this.whole) {
          // Whole values: sent once there is any credit (a large one may overdraw it).
          this.sender.emit({ type: 'chunk', stream: this.id, data: bytes });
          this.credit -= bytes.byteLength;
          continue;
        }
        while (bytes.byteLength > 0) {
          await this.until(() => this.credit > 0);
          if (this.stopped) return 'aborted';
          const size = Math.min(bytes.byteLength, this.credit, this.sender.maxChunk);
          this.sender.emit({ type: 'chunk', stream: this.id, data: bytes.subarray(0, size) });
          this.credit -= size;
          bytes = bytes.subarray(size);
        }
      }
    } catch (error) {
      if (this.stopped) return 'aborted';
      this.sender.emit({
        type: 'end',
        stream: this.id,
        error: handlerErrorToWire(error, this.sender.sendStacks),
      });
      return 'failed';
    }
  }

  /** The source's next item, or undefined as soon as the stream is stopped. */
  private nextOrStop(
    iterator: AsyncIterator<Uint8Array | string>,
  ): Promise<IteratorResult<Uint8Array | string> | undefined> {
    return new Promise((resolve, reject) => {
      this.onStop = () => resolve(undefined);
      iterator.next().then(resolve, reject);
    }).finally(() => (this.onStop = undefined)) as Promise<
      IteratorResult<Uint8Array | string> | undefined
    >;
  }

  private async until(ready: () => boolean): Promise<void> {
    while (!ready() && !this.stopped) {
      await new Promise<void>((resolve) => (this.wake = resolve));
    }
  }

  private resume(): void {
    const wake = this.wake;
    this.wake = undefined;
    wake?.();
  }
}

/**
 * The streams one side of a connection sends: each pulled from its source only as fast as the
 * receiver grants credit (`credit` frames), so neither side holds more than one window of it.
 */
export class StreamSender {
  private streams = emptyMap<number, OutgoingStream>();
  private nextId = 1;
  /** @internal */
  maxChunk = MAX_CHUNK_BYTES;
  /**
   * Whether a stream that fails tells the peer its error's stack: not to a peer that may not see
   * internals (the server sets it off for client-key uplinks).
   */
  sendStacks = true;

  constructor(
    private readonly out: FrameOut<ChunkFrame | EndFrame>,
    private window: number,
  ) {}

  /** The receiver's initial credit per stream, learned from hello/welcome. */
  setWindow(window: number): void {
    this.window = window;
  }

  /** The peer's largest message, learned from hello/welcome: chunks stay below it. */
  setMaxFrameBytes(maxFrameBytes: number): void {
    this.maxChunk = Math.max(1, Math.min(MAX_CHUNK_BYTES, maxFrameBytes - CHUNK_FRAME_OVERHEAD));
  }

  get size(): number {
    return this.streams.size;
  }

  /**
   * Starts sending `source` as a new stream; `done` learns how it ended. Returns its id. With
   * `whole`, each item of the source is sent as one chunk (value streams).
   */
  start(source: ByteSource, done?: (outcome: StreamOutcome) => void, whole = false): number {
    const id = this.allocateId();
    const stream = new OutgoingStream(id, this, this.window, whole);
    (this.streams = own(this.streams)).set(id, stream);
    void stream.pump(source).then((outcome) => {
      this.streams.delete(id);
      done?.(outcome);
    });
    return id;
  }

  credit(id: number, bytes: number): void {
    this.streams.get(id)?.grant(bytes);
  }

  /** The receiver wants no more: stop reading the source, send nothing more. */
  abort(id: number): void {
    this.streams.get(id)?.stop();
  }

  /** The connection is gone: stop every stream. */
  abortAll(): void {
    for (const stream of this.streams.values()) stream.stop();
  }

  /** @internal used by the streams */
  emit(frame: ChunkFrame | EndFrame): void {
    if (this.streams.get(frame.stream)?.stopped === false) this.out.send(frame);
  }

  private allocateId(): number {
    do {
      this.nextId = this.nextId >= 0xffff_ffff ? 1 : this.nextId + 1;
    } while (this.streams.has(this.nextId));
    return this.nextId;
  }
}

function toBuffer(value: Uint8Array): Buffer {
  if (!(value instanceof Uint8Array)) {
    throw new TypeError(`a stream must yield bytes or strings, got ${typeof value}`);
  }
  return Buffer.isBuffer(value)
    ? value
    : Buffer.from(value.buffer, value.byteOffset, value.byteLength);
}
