import type { SwitchboardError } from '../errors/switchboard-error.ts';
/** Where a received stream goes (e.g. an HTTP response being written, or a reader). */
export interface StreamTarget {
  /** Takes bytes; calls `flushed` once they left this process (that returns their credit). */
  write(data: Uint8Array, flushed: () => void): void;
  /** The stream is complete. */
  end(): void;
  /** The stream broke off (sender failed, connection lost, stalled): it is incomplete. */
  fail(error: SwitchboardError): void;
  /**
   * Each chunk is one whole value (progressive results): a chunk may then start while any
   * credit is left and overdraw it once. Read when a chunk arrives.
   */
  readonly wholeChunks?: boolean;
}

interface Piece {
  data: Uint8Array;
  flushed: () => void;
}

/**
 * A received stream as an async iterable: bytes count as consumed (and their credit goes back
 * to the sender) only when the reader takes them, so a slow reader slows the sender. Read once;
 * a reader that stops early (`break`) aborts the stream.
 */
export class StreamQueue implements StreamTarget, AsyncIterable<Buffer> {
  private readonly pieces: Piece[] = [];
  private ended = false;
  private failure: SwitchboardError | undefined;
  private wake: (() => void) | undefined;
  private taken = false;
  /** Set by a reader of whole values (ValueStream) before the first chunk arrives. */
  wholeChunks = false;

  constructor(private readonly abort: () => void) {}

  write(data: Uint8Array, flushed: () => void): void {
    this.pieces.push({ data, flushed });
    this.resume();
  }

  end(): void {
    this.ended = true;
    this.resume();
  }

  fail(error: SwitchboardError): void {
    this.failure = error;
    this.resume();
  }

  [Symbol.asyncIterator](): AsyncIterator<Buffer> {
    if (this.taken) throw new TypeError('A streamed body can be read only once');
    this.taken = true;
    return {
      next: async (): Promise<IteratorResult<Buffer>> => {
        for (;;) {
          const piece = this.pieces.shift();
          if (piece !== undefined) {
            piece.flushed();
            const { data } = piece;
            return {
              done: false,
              value: Buffer.isBuffer(data)
                ? data
                : Buffer.from(data.buffer, data.byteOffset, data.byteLength),
            };
          }
          if (this.failure !== undefined) throw this.failure;
          if (this.ended) return { done: true, value: undefined };
          await new Promise<void>((resolve) => (this.wake = resolve));
        }
      },
      return: (): Promise<IteratorResult<Buffer>> => {
        if (!this.ended && this.failure === undefined) this.abort();
        this.ended = true;
        this.pieces.length = 0;
        this.resume(); // a reader waiting in next() is done too
        return Promise.resolve({ done: true, value: undefined });
      },
    };
  }

  private resume(): void {
    const wake = this.wake;
    this.wake = undefined;
    wake?.();
  }
}
