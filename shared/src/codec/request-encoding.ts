import { SwitchboardError } from '../errors/switchboard-error.ts';
import type { LocalHttpRequest } from '../http/http-request.ts';
import type { CallerInfo } from '../protocol/caller.ts';
import type { RequestFrame } from '../protocol/frames.ts';
import { encodeValue } from './msgpack-codec.ts';

/**
 * A `request` frame's encoding, written field by field: the door sends one per HTTP request, and
 * the generic encoder spends most of its time finding out what it already knows here (which keys,
 * which types). The bytes are the generic encoder's (`encodeValue`) for a frame built the way the
 * door builds it: the same key order, maps as map 16, strings and integers in the same formats;
 * values of other shapes (a user, the session state, an unusual header) are encoded by
 * `encodeValue` and copied in. Keys whose value is undefined are left out, and `bodyChunks` go
 * out as `body`; fields that are not part of a wire request (`bodySource`) are never written.
 */
export function encodeRequestFrame(frame: RequestFrame): Buffer {
  at = start; // drops what a frame that failed half-way (a value that cannot be encoded) left
  const countAt = beginMap();
  let count = 4; // type, id, endpoint, request
  raw(TYPE_REQUEST);
  raw(ID_KEY);
  integer(frame.id);
  raw(ENDPOINT_KEY);
  string(frame.endpoint);
  raw(REQUEST_KEY);
  request(frame.request);
  if (frame.timeoutMs !== undefined) {
    count++;
    raw(TIMEOUT_KEY);
    integer(frame.timeoutMs);
  }
  if (frame.caller !== undefined) {
    count++;
    raw(CALLER_KEY);
    callerInfo(frame.caller);
  }
  if (frame.requestId !== undefined) {
    count++;
    raw(REQUEST_ID_KEY);
    string(frame.requestId);
  }
  endMap(countAt, count);
  return finish();
}

/** Type-checking fails here when one of these types gains a field the encoder does not write. */
export type WritesEveryField = [
  Assert<
    Knows<
      RequestFrame,
      'type' | 'id' | 'endpoint' | 'request' | 'timeoutMs' | 'caller' | 'requestId'
    >
  >,
  Assert<
    Knows<
      LocalHttpRequest,
      | 'method'
      | 'path'
      | 'params'
      | 'query'
      | 'headers'
      | 'remoteAddress'
      | 'appOrigin'
      | 'apiOrigin'
      | 'body'
      | 'bodyChunks'
      | 'bodySource' // never written: the door replaces it with a stream (bodyStream)
      | 'user'
      | 'state'
      | 'bodyStream'
    >
  >,
  Assert<
    Knows<CallerInfo, 'kind' | 'keyName' | 'keyKind' | 'uplinkName' | 'connectionId' | 'user'>
  >,
];
type Knows<T, Known extends keyof T> = [Exclude<keyof T, Known>] extends [never] ? true : false;
type Assert<Check extends true> = Check;

/** The wire request's fields in the order the door sets them. */
function request(http: LocalHttpRequest): void {
  const countAt = beginMap();
  let count = 8;
  raw(METHOD_KEY);
  string(http.method);
  raw(PATH_KEY);
  string(http.path);
  raw(PARAMS_KEY);
  stringMap(http.params);
  raw(QUERY_KEY);
  string(http.query);
  raw(HEADERS_KEY);
  stringMap(http.headers);
  raw(REMOTE_ADDRESS_KEY);
  string(http.remoteAddress);
  raw(APP_ORIGIN_KEY);
  string(http.appOrigin);
  raw(API_ORIGIN_KEY);
  string(http.apiOrigin);
  if (http.bodyChunks !== undefined) {
    count++;
    raw(BODY_KEY);
    chunks(http.bodyChunks);
  } else if (http.body !== undefined) {
    count++;
    raw(BODY_KEY);
    if (http.body instanceof Uint8Array) chunks([http.body]);
    else value(http.body);
  }
  if (http.user !== undefined) {
    count++;
    raw(USER_KEY);
    value(http.user);
  }
  if (http.state !== undefined) {
    count++;
    raw(STATE_KEY);
    value(http.state);
  }
  if (http.bodyStream !== undefined) {
    count++;
    raw(BODY_STREAM_KEY);
    integer(http.bodyStream);
  }
  endMap(countAt, count);
}

/** Who called (an HTTP caller, maybe with its user), its fields in the order the door sets them. */
function callerInfo(caller: CallerInfo): void {
  const countAt = beginMap();
  let count = 1;
  raw(KIND_KEY);
  string(caller.kind);
  for (const [key, field] of CALLER_STRINGS) {
    const text = caller[field];
    if (text === undefined) continue;
    count++;
    raw(key);
    string(text);
  }
  if (caller.user !== undefined) {
    count++;
    raw(USER_KEY);
    value(caller.user);
  }
  endMap(countAt, count);
}

// The output: frames are written one after the other into a shared block and handed out as
// views of it (a block is let go once no frame in it is referenced). Small, so that a frame kept
// for a while (queued behind a slow socket) keeps little else alive.
const BLOCK_BYTES = 16 * 1024;
let block = Buffer.allocUnsafe(BLOCK_BYTES);
/** Where the frame being written starts, and the write position. */
let start = 0;
let at = 0;

/** Makes room for `bytes` more, moving the frame written so far to a new block if needed. */
function room(bytes: number): void {
  if (at + bytes <= block.length) return;
  const written = at - start;
  const next = Buffer.allocUnsafe(Math.max(BLOCK_BYTES, 2 * (written + bytes)));
  block.copy(next, 0, start, at);
  block = next;
  start = 0;
  at = written;
}

function finish(): Buffer {
  const frame = block.subarray(start, at);
  start = at;
  // A nearly full block is not worth keeping for the next frame's few bytes; one grown for a
  // large frame is not kept for the small ones after it.
  if (block.length - at < 1024 || block.length > BLOCK_BYTES) {
    block = Buffer.allocUnsafe(BLOCK_BYTES);
    start = at = 0;
  }
  return frame;
}

/** Copies bytes in (a byte loop: a native copy costs more than it saves on a few bytes). */
function raw(bytes: Uint8Array): void {
  const length = bytes.length;
  if (length > 64) {
    room(length);
    block.set(bytes, at);
    at += length;
    return;
  }
  room(length);
  const target = block;
  const to = at;
  for (let i = 0; i < length; i++) target[to + i] = bytes[i]!;
  at = to + length;
}

/** Anything else, as the generic encoder writes it. */
function value(item: unknown): void {
  raw(encodeValue(item));
}

/** A map header like the generic encoder's: always map 16, its size filled in at the end. */
function beginMap(): number {
  room(3);
  block[at] = 0xde;
  at += 3;
  return at - 2 - start; // relative: the frame may move to a new block
}

function endMap(countAt: number, count: number): void {
  block[start + countAt] = count >> 8;
  block[start + countAt + 1] = count & 0xff;
}

function integer(number: number): void {
  if (typeof number !== 'number' || number >>> 0 !== number) {
    value(number); // negative, fractional, wider than 32 bits, or not a number at all
    return;
  }
  room(5);
  if (number < 0x80) {
    block[at++] = number;
  } else if (number < 0x100) {
    block[at++] = 0xcc;
    block[at++] = number;
  } else if (number < 0x10000) {
    block[at++] = 0xcd;
    block[at++] = number >> 8;
    block[at++] = number & 0xff;
  } else {
    block[at++] = 0xce;
    block.writeUInt32BE(number, at);
    at += 4;
  }
}

/**
 * A string in the generic encoder's format: short strings (under 64 UTF-16 units) encoded by a
 * loop that writes a lone surrogate as its three bytes, longer ones by Buffer's UTF-8 writer; the
 * header is chosen by the encoded length (fixstr, str 8, 16, 32), first guessed from the string's
 * length and moved along if the bytes need a longer one.
 */
function string(text: string): void {
  if (typeof text !== 'string') {
    value(text); // not what the types promise: written as the generic encoder writes it
    return;
  }
  const length = text.length;
  room(length * 3 + 5);
  // Locals, not the module's variables, in the loop.
  const target = block;
  let to = at;
  const guess = length < 0x20 ? 1 : length < 0x100 ? 2 : length < 0x10000 ? 3 : 5;
  let bytes: number;
  if (length < 0x40) {
    let end = to + guess;
    for (let i = 0; i < length; i++) {
      let unit = text.charCodeAt(i);
      if (unit < 0x80) {
        target[end++] = unit;
      } else if (unit < 0x800) {
        target[end++] = (unit >> 6) | 0xc0;
        target[end++] = (unit & 0x3f) | 0x80;
      } else if ((unit & 0xfc00) === 0xd800 && (text.charCodeAt(i + 1) & 0xfc00) === 0xdc00) {
        unit = 0x10000 + ((unit & 0x03ff) << 10) + (text.charCodeAt(++i) & 0x03ff);
        target[end++] = (unit >> 18) | 0xf0;
        target[end++] = ((unit >> 12) & 0x3f) | 0x80;
        target[end++] = ((unit >> 6) & 0x3f) | 0x80;
        target[end++] = (unit & 0x3f) | 0x80;
      } else {
        target[end++] = (unit >> 12) | 0xe0;
        target[end++] = ((unit >> 6) & 0x3f) | 0x80;
        target[end++] = (unit & 0x3f) | 0x80;
      }
    }
    bytes = end - to - guess;
  } else {
    bytes = target.write(text, to + guess);
  }
  if (bytes < 0x20) {
    target[to++] = 0xa0 | bytes;
  } else if (bytes < 0x100) {
    if (guess < 2) target.copyWithin(to + 2, to + 1, to + 1 + bytes);
    target[to++] = 0xd9;
    target[to++] = bytes;
  } else if (bytes < 0x10000) {
    if (guess < 3) target.copyWithin(to + 3, to + guess, to + guess + bytes);
    target[to++] = 0xda;
    target[to++] = bytes >> 8;
    target[to++] = bytes & 0xff;
  } else {
    if (guess < 5) target.copyWithin(to + 5, to + guess, to + guess + bytes);
    target[to++] = 0xdb;
    target.writeUInt32BE(bytes, to);
    to += 4;
  }
  at = to + bytes;
}

/** Params or headers: string values, or lists of strings (repeated headers such as set-cookie). */
function stringMap(map: Readonly<Record<string, unknown>>): void {
  const countAt = beginMap();
  let count = 0;
  // Own keys only, unless the map has no hasOwnProperty (as the generic encoder decides).
  const ownOnly = typeof map.hasOwnProperty === 'function';
  for (const key in map) {
    if (ownOnly && !Object.hasOwn(map, key)) continue;
    count++;
    string(key);
    const item = map[key];
    if (typeof item === 'string') string(item);
    else if (isShortStringList(item)) {
      room(1);
      block[at++] = 0x90 | item.length;
      for (const entry of item) string(entry);
    } else value(item);
  }
  if (count > 0xffff) {
    throw new SwitchboardError(
      'SB_ERR_VALUE_NOT_SERIALIZABLE',
      `Value cannot be encoded: a map of ${count} entries is beyond map 16`,
    );
  }
  endMap(countAt, count);
}

/** A list of strings that fits a fixarray (a hole is not a string: the generic encoder writes it). */
function isShortStringList(item: unknown): item is string[] {
  if (!Array.isArray(item) || item.length >= 0x10) return false;
  for (let i = 0; i < item.length; i++) if (typeof item[i] !== 'string') return false;
  return true;
}

/** Byte strings as bin 8, 16 or 32 by their total length, the chunks copied one after another. */
function chunks(parts: readonly Uint8Array[]): void {
  let length = 0;
  for (const part of parts) length += part.byteLength;
  room(length + 5);
  if (length < 0x100) {
    block[at++] = 0xc4;
    block[at++] = length;
  } else if (length < 0x10000) {
    block[at++] = 0xc5;
    block[at++] = length >> 8;
    block[at++] = length & 0xff;
  } else {
    block[at++] = 0xc6;
    block.writeUInt32BE(length, at);
    at += 4;
  }
  for (const part of parts) raw(part);
}

/** Encoded keys (and the type field, the same in every frame). */
const encoded = (...items: string[]): Buffer =>
  Buffer.concat(items.map((item) => encodeValue(item)));
const TYPE_REQUEST = encoded('type', 'request');
const ID_KEY = encoded('id');
const ENDPOINT_KEY = encoded('endpoint');
const REQUEST_KEY = encoded('request');
const TIMEOUT_KEY = encoded('timeoutMs');
const CALLER_KEY = encoded('caller');
const REQUEST_ID_KEY = encoded('requestId');
const METHOD_KEY = encoded('method');
const PATH_KEY = encoded('path');
const PARAMS_KEY = encoded('params');
const QUERY_KEY = encoded('query');
const HEADERS_KEY = encoded('headers');
const REMOTE_ADDRESS_KEY = encoded('remoteAddress');
const APP_ORIGIN_KEY = encoded('appOrigin');
const API_ORIGIN_KEY = encoded('apiOrigin');
const BODY_KEY = encoded('body');
const USER_KEY = encoded('user');
const STATE_KEY = encoded('state');
const BODY_STREAM_KEY = encoded('bodyStream');
const KIND_KEY = encoded('kind');
const CALLER_STRINGS = (['keyName', 'keyKind', 'uplinkName', 'connectionId'] as const).map(
  (field) => [encoded(field), field] as const,
);
