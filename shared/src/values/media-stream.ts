import type { ByteSource } from '../streams/stream-sender.ts';

/**
 * A `Media` whose bytes are produced while they are sent (a file read from disk, a rendered
 * video): return it from an endpoint handler and the body streams with its content type (and a
 * Content-Disposition when named), at the pace the client reads.
 */
export class MediaStream {
  constructor(
    readonly contentType: string,
    readonly source: ByteSource,
    readonly name?: string,
  ) {
    if (typeof contentType !== 'string' || contentType.length === 0) {
      throw new TypeError('MediaStream needs a content type');
    }
  }
}
