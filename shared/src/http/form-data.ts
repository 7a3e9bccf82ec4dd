import { Readable } from 'node:stream';
import { Busboy } from '@fastify/busboy';
import { SwitchboardError } from '../errors/switchboard-error.ts';
import { Media } from '../values/media.ts';

/** A parsed form: text fields as strings, uploaded files as Media. */
export type FormValues = Record<string, string | Media>;

/** Parses `multipart/form-data` (fields → strings, files → Media). Throws SB_ERR_HTTP_BAD_BODY. */
export function parseMultipart(contentType: string, body: Uint8Array): Promise<FormValues> {
  return new Promise((resolve, reject) => {
    const form: FormValues = {};
    let parser: InstanceType<typeof Busboy>;
    try {
      parser = new Busboy({ headers: { 'content-type': contentType } });
    } catch (error) {
      reject(bad(error));
      return;
    }
    parser.on('field', (name: string, value: string) => {
      form[name] = value;
    });
    parser.on(
      'file',
      // busboy passes (name, stream, filename, encoding, mimeType).
      (...[name, stream, filename, , mimeType]: [string, Readable, string, string, string]) => {
        const chunks: Buffer[] = [];
        stream.on('data', (chunk: Buffer) => chunks.push(chunk));
        stream.on('end', () => {
          form[name] = new Media(
            mimeType || 'application/octet-stream',
            Buffer.concat(chunks),
            filename || undefined,
          );
        });
      },
    );
    parser.on('error', (error: unknown) => reject(bad(error)));
    parser.on('finish', () => resolve(form));
    Readable.from([Buffer.from(body.buffer, body.byteOffset, body.byteLength)]).pipe(parser);
  });
}

/** Parses `application/x-www-form-urlencoded`; a repeated name keeps its last value. */
export function parseUrlEncoded(body: Uint8Array): FormValues {
  return Object.fromEntries(new URLSearchParams(Buffer.from(body).toString('utf8')));
}

function bad(error: unknown): SwitchboardError {
  return new SwitchboardError(
    'SB_ERR_HTTP_BAD_BODY',
    `Malformed form body: ${error instanceof Error ? error.message : String(error)}`,
  );
}
