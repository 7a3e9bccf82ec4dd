import { isAscii } from 'node:buffer';

/**
 * A blob with a content type and an optional file name: files, images, model outputs.
 * Travels as MessagePack extension type 1 (see docs/protocol.md).
 */
export class Media {
  readonly contentType: string;
  readonly bytes: Uint8Array;
  readonly name: string | undefined;

  constructor(contentType: string, bytes: Uint8Array | string, name?: string) {
    if (typeof contentType !== 'string' || contentType.length === 0) {
      throw new TypeError('Media needs a content type');
    }
    this.contentType = contentType;
    this.bytes = typeof bytes === 'string' ? new TextEncoder().encode(bytes) : bytes;
    this.name = name;
  }

  get length(): number {
    return this.bytes.byteLength;
  }

  /** Its bytes as one chunk, so a handler reads a buffered and a streamed body alike. */
  async *[Symbol.asyncIterator](): AsyncGenerator<Buffer> {
    await Promise.resolve();
    const bytes = this.bytes;
    yield Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  }

  /** The bytes decoded as UTF-8 text. */
  text(): string {
    const bytes = this.bytes;
    // Pure ASCII (most JSON) decodes about 2.5x faster as such; isAscii is one SIMD pass.
    if (isAscii(bytes)) {
      return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('ascii');
    }
    return new TextDecoder().decode(bytes);
  }
}
