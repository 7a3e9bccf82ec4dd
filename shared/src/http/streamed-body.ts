import { SwitchboardError } from '../errors/switchboard-error.ts';

/** Most bytes `bytes()`/`text()` collect from a streamed body unless told otherwise: 64 MiB. */
export const DEFAULT_COLLECT_LIMIT = 64 * 1024 * 1024;

/**
 * A request body that arrives while the handler runs (an endpoint with `maxBodyBytes`): read it
 * with `for await (const chunk of req.body)`, pipe it (`Readable.from(req.body)`), or collect a
 * small one with `bytes()`/`text()`. It can be read once; the upload goes only as fast as it is
 * read.
 */
export class StreamedBody implements AsyncIterable<Buffer> {
  constructor(
    readonly contentType: string,
    private readonly source: AsyncIterable<Buffer>,
    /** From Content-Length, when the client sent one. */
    readonly length: number | undefined,
  ) {}

  [Symbol.asyncIterator](): AsyncIterator<Buffer> {
    return this.source[Symbol.asyncIterator]();
  }

  /** The whole body; SB_ERR_HTTP_BODY_TOO_LARGE beyond `limit` bytes. */
  async bytes(limit = DEFAULT_COLLECT_LIMIT): Promise<Buffer> {
    const chunks: Buffer[] = [];
    let total = 0;
    for await (const chunk of this.source) {
      total += chunk.byteLength;
      if (total > limit) {
        throw new SwitchboardError(
          'SB_ERR_HTTP_BODY_TOO_LARGE',
          `The body is larger than ${limit} bytes; read it as a stream instead`,
        );
      }
      chunks.push(chunk);
    }
    return Buffer.concat(chunks, total);
  }

  async text(limit?: number): Promise<string> {
    return (await this.bytes(limit)).toString('utf8');
  }

  /** The body parsed as JSON; SB_ERR_HTTP_BAD_BODY when it is not. */
  async json(limit?: number): Promise<unknown> {
    const text = await this.text(limit);
    try {
      return JSON.parse(text) as unknown;
    } catch (error) {
      throw new SwitchboardError(
        'SB_ERR_HTTP_BAD_BODY',
        `Malformed JSON body: ${error instanceof Error ? error.message : String(error)}`,
      );
    }
  }
}
