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

  /** The bytes decoded as UTF-8 text. */
  text(): string {
    return new TextDecoder().decode(this.bytes);
  }
}
