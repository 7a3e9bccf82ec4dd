import { decodeValue, encodeValue } from '../codec/msgpack-codec.ts';
import { Media } from '../values/media.ts';
import type { ByteSource } from './stream-sender.ts';

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

  /** Parts arriving as encoded chunks (from a connection). */
  static fromChunks(chunks: AsyncIterable<Buffer>): ValueStream {
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

  /** Reads every part into an array (what `call()` answers for a streaming function). */
  async collect(): Promise<unknown[]> {
    const parts: unknown[] = [];
    for await (const part of this) parts.push(part);
    return parts;
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
