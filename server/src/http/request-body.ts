import type { IncomingMessage } from 'node:http';
import { SwitchboardError } from '@switchboard/shared';

/** A request body left unread by the door: the provider reads it as a stream. */
export class StreamedPayload {
  constructor(readonly source: AsyncIterable<Buffer>) {}
}

/**
 * Reads a whole body into one buffer, refusing more than `limit` bytes (by Content-Length up
 * front, else as it arrives) with SB_ERR_HTTP_BODY_TOO_LARGE.
 */
export function readBody(
  payload: IncomingMessage,
  limit: number,
  done: (error: Error | null, body?: Buffer) => void,
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
  payload.once('end', () => {
    if (failed) return;
    if (Number.isSafeInteger(declared) && declared !== total) {
      done(
        new SwitchboardError('SB_ERR_HTTP_BAD_BODY', 'The body is shorter than its Content-Length'),
      );
      return;
    }
    done(null, chunks.length === 1 ? chunks[0] : Buffer.concat(chunks, total));
  });
  payload.once('error', (error) => {
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
