import { Readable } from 'node:stream';

const BLOCK = Buffer.alloc(256 * 1024, 7);

/** `mib` MiB as a Node stream of 256 KiB blocks (the same bytes for every scenario). */
export function blobSource(mib: number): Readable {
  return Readable.from(blocks(mib * 4), { objectMode: false });
}

async function* blocks(count: number): AsyncGenerator<Buffer> {
  for (let i = 0; i < count; i++) {
    yield BLOCK;
    if (i % 16 === 15) await Promise.resolve();
  }
}

/** Reads a body to the end and returns its length. */
export async function sink(body: AsyncIterable<Buffer>): Promise<number> {
  let bytes = 0;
  for await (const chunk of body) bytes += chunk.byteLength;
  return bytes;
}
