import type { IncomingMessage } from 'node:http';
import { SPLICE_MIN_BYTES, SwitchboardError } from '@switchboard/shared';

/** A request body left unread by the door: the provider reads it as a stream. */
export class StreamedPayload {
  constructor(readonly source: AsyncIterable<Buffer>) {}
}

/**
 * A whole body kept in the chunks it arrived in: spliced into the frame to an uplink without
 * being joined (see `encodeSpliced`), joined only where it is needed whole.
 */
export class BodyChunks {
  constructor(
    readonly chunks: readonly Buffer[],
    readonly byteLength: number,
  ) {}

  joined(): Buffer {
    return Buffer.concat(this.chunks, this.byteLength);
  }
}

/**
 * Kept in chunks only when they are few and large enough that writing each one to the socket
 * costs less than joining them: a client sending a body in tiny pieces (one byte per chunk of
 * chunked transfer encoding) must not turn into a socket write per byte.
 */
const MIN_AVERAGE_CHUNK_BYTES = 16 * 1024;

/**
 * Reads a whole body, refusing more than `limit` bytes (by Content-Length up front, else as it
 * arrives) with SB_ERR_HTTP_BODY_TOO_LARGE: one buffer, or the chunks when they are many and
 * large enough to be spliced into a frame (joining them would copy the body once more).
 */
export function readBody(
  payload: IncomingMessage,
  limit: number,
  done: (error: Error | null, body?: Buffer | BodyChunks) => void,
): void {
  const declared = Number(payload.headers['content-length']);
  if (declared > limit) {
    done(tooLarge(limit));
    return;
  }
  const chunks: Buffer[] = [];
  let total = 0;
  let failed = false;
  payload.on('data', (chunk: Buffer) => {
    if (failed) return;
    total += chunk.byteLength;
    if (total > limit) {
      failed = true;
      done(tooLarge(limit));
      return;
    }
    chunks.push(chunk);
  });
  // 'end' and 'error' come once; `on` spares once()'s wrapper per request.
  payload.on('end', () => {
    if (failed) return;
    if (Number.isSafeInteger(declared) && declared !== total) {
      done(
        new SwitchboardError('SB_ERR_HTTP_BAD_BODY', 'The body is shorter than its Content-Length'),
      );
      return;
    }
    if (chunks.length === 1) done(null, chunks[0]);
    else if (total >= SPLICE_MIN_BYTES && total / chunks.length >= MIN_AVERAGE_CHUNK_BYTES)
      done(null, new BodyChunks(chunks, total));
    else done(null, Buffer.concat(chunks, total));
  });
  payload.on('error', (error) => {
    if (failed) return;
    failed = true;
    done(error);
  });
}

/**
 * The body as it arrives, failing with SB_ERR_HTTP_BODY_TOO_LARGE past `limit` bytes. When the
 * reader stops early (limit, or the handler did not want the rest) the remainder is discarded
 * rather than the connection reset, so the client still gets the answer.
 */
export async function* limitedSource(
  payload: IncomingMessage,
  limit: number,
): AsyncGenerator<Buffer> {
  let total = 0;
  try {
    for await (const chunk of payload.iterator({
      destroyOnReturn: false,
    }) as AsyncIterable<Buffer>) {
      total += chunk.byteLength;
      if (total > limit) throw tooLarge(limit);
      yield chunk;
    }
  } finally {
    if (!payload.readableEnded) payload.resume();
  }
}

function tooLarge(limit: number): SwitchboardError {
  return new SwitchboardError(
    'SB_ERR_HTTP_BODY_TOO_LARGE',
    `The request body is larger than this endpoint's limit of ${limit} bytes`,
  );
}
