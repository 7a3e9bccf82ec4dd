import { decodeValue, encodeValue } from '../codec/msgpack-codec.ts';
import { SwitchboardError } from '../errors/switchboard-error.ts';
import { Media } from '../values/media.ts';
import type { ByteSource } from './stream-sender.ts';
import { StreamQueue } from './stream-queue.ts';

/** What `call()` collects of a streaming function at most: parts, and bytes over a connection. */
export const MAX_COLLECTED_PARTS = 100_000;
export const MAX_COLLECTED_BYTES = 64 * 1024 * 1024;

/**
 * Progressive results of a function that returns an async iterable (an async generator): read
 * with `for await`. On the wire each part is one encoded value in one chunk; `raw()` gives those
 * chunks (to relay a stream without decoding it). Read once; stopping early (`break`) tells the
 * producer to stop.
 */
export class ValueStream implements AsyncIterable<unknown> {
  private constructor(
    private readonly chunks: AsyncIterable<Buffer> | undefined,
    private readonly values: AsyncIterable<unknown> | undefined,
  ) {}

  /**
   * Parts arriving as encoded chunks (from a connection). A received stream is marked as one of
   * whole values, so its receiver allows a part to overdraw the credit once.
   */
  static fromChunks(chunks: AsyncIterable<Buffer>): ValueStream {
    if (chunks instanceof StreamQueue) chunks.wholeChunks = true;
    return new ValueStream(chunks, undefined);
  }

  /** Parts produced in this process. */
  static fromValues(values: AsyncIterable<unknown>): ValueStream {
    return new ValueStream(undefined, values);
  }

  [Symbol.asyncIterator](): AsyncIterator<unknown> {
    return this.values !== undefined
      ? this.values[Symbol.asyncIterator]()
      : decodeEach(this.chunks!)[Symbol.asyncIterator]();
  }

  /** The parts as encoded chunks, one value each. */
  raw(): ByteSource {
    return this.chunks ?? encodeEach(this.values!);
  }

  /**
   * Reads every part into an array (what `call()` answers for a streaming function): at most
   * `maxParts` parts and, arriving over a connection, `maxBytes` of them; beyond that, or when
   * `signal` aborts, the producer is stopped and this rejects (SB_ERR_PROTO_FRAME_TOO_LARGE,
   * SB_ERR_CALL_CANCELLED). Endless streams are for `stream()`.
   */
  async collect(
    options: { maxParts?: number; maxBytes?: number; signal?: AbortSignal } = {},
  ): Promise<unknown[]> {
    const { maxParts = MAX_COLLECTED_PARTS, maxBytes = MAX_COLLECTED_BYTES, signal } = options;
    const parts: unknown[] = [];
    let bytes = 0;
    const iterator = (this.chunks ?? this.values!)[Symbol.asyncIterator]();
    try {
      for (;;) {
        if (signal?.aborted === true) throw new SwitchboardError('SB_ERR_CALL_CANCELLED');
        const next = await iterator.next();
        if (next.done === true) return parts;
        if (this.chunks !== undefined) {
          bytes += (next.value as Buffer).byteLength;
          parts.push(decodeValue(next.value as Buffer));
        } else parts.push(next.value);
        if (parts.length > maxParts || bytes > maxBytes) {
          throw new SwitchboardError(
            'SB_ERR_PROTO_FRAME_TOO_LARGE',
            `The function's parts exceed ${maxParts} parts or ${maxBytes} bytes: read them with stream()`,
          );
        }
      }
    } catch (error) {
      await iterator.return?.();
      throw error;
    }
  }
}

/** Whether a function's result is meant as progressive results: an async iterable, not a body. */
export function isValueSource(value: unknown): value is AsyncIterable<unknown> {
  return (
    typeof value === 'object' &&
    value !== null &&
    !(value instanceof Uint8Array) &&
    !(value instanceof Media) &&
    !(value instanceof ValueStream) &&
    typeof (value as { [Symbol.asyncIterator]?: unknown })[Symbol.asyncIterator] === 'function'
  );
}

async function* decodeEach(chunks: AsyncIterable<Buffer>): AsyncGenerator<unknown> {
  for await (const chunk of chunks) yield decodeValue(chunk);
}

async function* encodeEach(values: AsyncIterable<unknown>): AsyncGenerator<Buffer> {
  // A copy: the codec may reuse its buffer for the next value.
  for await (const value of values) yield Buffer.from(encodeValue(value));
}
