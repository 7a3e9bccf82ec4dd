import type { ByteSource } from './stream-sender.ts';

/**
 * The byte source behind a value a handler may return or pass to stream: an async iterable of
 * bytes or strings (an async generator), a Node `Readable`, or a web `ReadableStream`; anything
 * else → undefined. Strings, bytes, arrays and plain objects are not streams.
 */
export function asByteSource(value: unknown): ByteSource | undefined {
  if (typeof value !== 'object' || value === null) return undefined;
  if (value instanceof Uint8Array || Array.isArray(value)) return undefined;
  if (typeof (value as { [Symbol.asyncIterator]?: unknown })[Symbol.asyncIterator] === 'function')
    return value as ByteSource; // async generators, Node Readables, Node 20's ReadableStream
  if (typeof (value as { getReader?: unknown }).getReader === 'function')
    return readerSource(value as ReadableStream<Uint8Array | string>);
  return undefined;
}

async function* readerSource(stream: ReadableStream<Uint8Array | string>): ByteSource {
  const reader = stream.getReader();
  try {
    for (;;) {
      const { value, done } = await reader.read();
      if (done) return;
      yield value;
    }
  } finally {
    await reader.cancel().catch(() => undefined);
  }
}
