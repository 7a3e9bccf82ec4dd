import { SwitchboardError } from '../errors/switchboard-error.ts';
import type { WireHttpResponse } from '../protocol/wire-http.ts';
import { Media } from '../values/media.ts';
import { MediaStream } from '../values/media-stream.ts';
import { asByteSource } from '../streams/byte-source.ts';
import type { ByteSource } from '../streams/stream-sender.ts';

export type HeaderValues = Record<string, string | number | readonly string[]>;

/** A response with an exact status, headers and body; the body is mapped like a plain return value. */
export class HttpResponse {
  readonly status: number;
  readonly body: unknown;
  readonly headers: HeaderValues;

  constructor(status = 200, body?: unknown, headers: HeaderValues = {}) {
    this.status = status;
    this.body = body;
    this.headers = headers;
  }
}

/** A mapped response whose body is still to be produced: `source` is sent as a stream. */
export interface MappedResponse extends WireHttpResponse {
  source?: ByteSource;
}

const JSON_TYPE = 'application/json; charset=utf-8';
const TEXT_TYPE = 'text/plain; charset=utf-8';

/**
 * What a handler's value becomes on the wire (done where the handler runs, so the door only
 * copies bytes): string → text/plain; bytes or Media → its content type (Media with a name adds
 * Content-Disposition); undefined → 204; an async iterable, Node Readable or web ReadableStream
 * → a streamed body (`source`); HttpResponse → its status and headers with its body mapped the
 * same way; anything else → JSON. Throws SB_ERR_HTTP_BAD_RESPONSE.
 */
export function toWireResponse(value: unknown): MappedResponse {
  if (value instanceof HttpResponse) {
    if (!Number.isInteger(value.status) || value.status < 200 || value.status > 999) {
      throw bad(`HttpResponse status must be an integer 200-999, got ${String(value.status)}`);
    }
    const mapped =
      value.body === undefined ? { status: 204, headers: {} } : toWireResponse(value.body);
    const headers: Record<string, string | string[]> = { ...mapped.headers };
    for (const [name, header] of Object.entries(value.headers)) {
      const lower = name.toLowerCase();
      if (!/^[!#$%&'*+.^_`|~0-9a-z-]+$/.test(lower))
        throw bad(`Invalid header name ${JSON.stringify(name)}`);
      const values = Array.isArray(header) ? header.map(String) : [String(header)];
      if (values.some((v) => /[\r\n\0]/.test(v))) throw bad(`Header ${name} contains a line break`);
      headers[lower] = Array.isArray(header) ? values : values[0]!;
    }
    return {
      status: value.status,
      headers,
      ...(mapped.body === undefined ? {} : { body: mapped.body }),
      ...(mapped.source === undefined ? {} : { source: mapped.source }),
    };
  }
  if (value === undefined) return { status: 204, headers: {} };
  if (typeof value === 'string') return ok(TEXT_TYPE, Buffer.from(value, 'utf8'));
  if (value instanceof Media || value instanceof MediaStream) {
    const headers: Record<string, string> = { 'content-type': value.contentType };
    if (value.name !== undefined) headers['content-disposition'] = contentDisposition(value.name);
    if (value instanceof MediaStream) return { status: 200, headers, source: value.source };
    return { status: 200, headers, body: value.bytes };
  }
  if (value instanceof Uint8Array) return ok('application/octet-stream', value);
  const source = asByteSource(value);
  if (source !== undefined)
    return { status: 200, headers: { 'content-type': 'application/octet-stream' }, source };
  let json: string | undefined;
  try {
    // A replacer makes V8 call back into JS for every key; only pay for it when needed.
    json = needsReplacer(value) ? JSON.stringify(value, jsonReplacer) : JSON.stringify(value);
  } catch (error) {
    throw bad(
      `The value cannot be sent as JSON: ${error instanceof Error ? error.message : String(error)}`,
    );
  }
  if (json === undefined) throw bad(`A ${typeof value} cannot be sent as a response`);
  return ok(JSON_TYPE, Buffer.from(json, 'utf8'));
}

/** JSON for values JSON lacks: BigInt → decimal string, bytes → base64, Media → {contentType, name, base64}. */
export function jsonReplacer(this: unknown, key: string, value: unknown): unknown {
  // `this[key]` is the value before toJSON() ran (Buffer.toJSON would give {type, data}).
  const raw = (this as Record<string, unknown>)[key];
  if (typeof raw === 'bigint') return raw.toString();
  if (raw instanceof Uint8Array)
    return Buffer.from(raw.buffer, raw.byteOffset, raw.byteLength).toString('base64');
  if (raw instanceof Media) {
    return {
      contentType: raw.contentType,
      name: raw.name ?? null,
      base64: Buffer.from(raw.bytes).toString('base64'),
    };
  }
  return value;
}

/**
 * Whether `value` holds anything plain JSON.stringify would get wrong (BigInt, bytes, Media).
 * Gives up (answers true) after MAX_SCAN nodes or when nesting exhausts the stack, so a circular
 * value ends on the replacer path, where JSON.stringify reports it. Recursive: about three times
 * faster than an explicit stack on large documents (measured on the 1 MiB bench body).
 */
function needsReplacer(value: unknown): boolean {
  if (typeof value === 'bigint') return true;
  if (typeof value !== 'object' || value === null) return false;
  const budget = { left: MAX_SCAN };
  try {
    return holdsSpecial(value, budget);
  } catch {
    return true; // RangeError: nested too deeply (or circular); the replacer path reports it
  }
}

function holdsSpecial(item: object, budget: { left: number }): boolean {
  if (--budget.left < 0) return true;
  if (Array.isArray(item)) {
    for (let index = 0; index < item.length; index++) {
      const element: unknown = item[index];
      if (typeof element === 'object') {
        if (element !== null && holdsSpecial(element, budget)) return true;
      } else if (typeof element === 'bigint') return true;
    }
    return false;
  }
  const prototype: unknown = Object.getPrototypeOf(item);
  if (prototype !== Object.prototype && prototype !== null) {
    // A plain object (most of any document) is none of these; at worst an own toJSON makes the
    // scan look further than needed, which can only choose the (always correct) replacer path.
    if (ArrayBuffer.isView(item) || item instanceof Media) return true;
    if (typeof (item as { toJSON?: unknown }).toJSON === 'function') return false;
  }
  for (const key in item) {
    const child = (item as Record<string, unknown>)[key];
    if (typeof child === 'object') {
      if (child !== null && holdsSpecial(child, budget)) return true;
    } else if (typeof child === 'bigint') return true;
  }
  return false;
}

const MAX_SCAN = 500_000;

function ok(contentType: string, body: Uint8Array): WireHttpResponse {
  return { status: 200, headers: { 'content-type': contentType }, body };
}

function contentDisposition(name: string): string {
  const ascii = name.replace(/[^\x20-\x7e]|["\\]/g, '_');
  return `attachment; filename="${ascii}"; filename*=UTF-8''${encodeURIComponent(name)}`;
}

function bad(message: string): SwitchboardError {
  return new SwitchboardError('SB_ERR_HTTP_BAD_RESPONSE', message);
}
