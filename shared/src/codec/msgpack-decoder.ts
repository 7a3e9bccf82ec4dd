import { decodeMediaPayload } from './media-ext.ts';
import { EXT_BIG_INTEGER, EXT_MEDIA, EXT_TIMESTAMP } from './msgpack-scan.ts';

/**
 * Builds the values of MessagePack that `scanMessage` has accepted, so it trusts the structure
 * (lengths, depth, extension types) and checks nothing again. What it builds is what msgpackr
 * built with the codec's options: maps as plain objects (a key `__proto__` renamed `__proto_`,
 * other non-string keys as their text), bin as a view of the input, int64/uint64 as BigInt,
 * ext 0 as undefined, -1 as Date, 1 as Media, 0x42 as BigInt.
 */
export function buildValue(bytes: Uint8Array): unknown {
  start(bytes);
  try {
    return read();
  } finally {
    src = buffer = EMPTY;
    text = undefined;
  }
}

/** Every value of a message `scanMessage` accepted with `multiple`. */
export function buildValues(bytes: Uint8Array): unknown[] {
  start(bytes);
  try {
    const values: unknown[] = [];
    while (at < bytes.length) values.push(read());
    return values;
  } finally {
    src = buffer = EMPTY;
    text = undefined;
  }
}

function start(bytes: Uint8Array): void {
  src = bytes;
  buffer = Buffer.isBuffer(bytes)
    ? bytes
    : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  at = 0;
  asciiStrings = 0;
}

// The message being built and the read position; set for the length of one synchronous build
// (nothing it calls can start another).
const EMPTY = Buffer.alloc(0);
let src: Uint8Array = EMPTY;
let buffer: Buffer = EMPTY;
let at = 0;
let text: string | undefined;
let asciiStrings = 0;

// Eight bytes turned into a float or a 64-bit integer without a DataView per message.
const scratch = new Uint8Array(8);
const scratchView = new DataView(scratch.buffer);

function read(): unknown {
  const token = src[at++]!;
  if (token < 0x80) return token;
  if (token < 0x90) return map(token & 0x0f);
  if (token < 0xa0) return array(token & 0x0f);
  if (token < 0xc0) return string(token & 0x1f);
  if (token >= 0xe0) return token - 0x100;
  switch (token) {
    case 0xc0:
      return null;
    case 0xc2:
      return false;
    case 0xc3:
      return true;
    case 0xc4:
      return bin(uint(1));
    case 0xc5:
      return bin(uint(2));
    case 0xc6:
      return bin(uint(4));
    case 0xc7:
      return ext(uint(1));
    case 0xc8:
      return ext(uint(2));
    case 0xc9:
      return ext(uint(4));
    case 0xca:
      return view(4).getFloat32(0);
    case 0xcb:
      return view(8).getFloat64(0);
    case 0xcc:
      return uint(1);
    case 0xcd:
      return uint(2);
    case 0xce:
      return uint(4);
    case 0xcf:
      return view(8).getBigUint64(0);
    case 0xd0:
      return (uint(1) << 24) >> 24;
    case 0xd1:
      return (uint(2) << 16) >> 16;
    case 0xd2:
      return uint(4) | 0;
    case 0xd3:
      return view(8).getBigInt64(0);
    case 0xd4:
      return ext(1);
    case 0xd5:
      return ext(2);
    case 0xd6:
      return ext(4);
    case 0xd7:
      return ext(8);
    case 0xd8:
      return ext(16);
    case 0xd9:
      return string(uint(1));
    case 0xda:
      return string(uint(2));
    case 0xdb:
      return string(uint(4));
    case 0xdc:
      return array(uint(2));
    case 0xdd:
      return array(uint(4));
    case 0xde:
      return map(uint(2));
    default: // 0xdf; the scan let no other byte through
      return map(uint(4));
  }
}

function uint(size: 1 | 2 | 4): number {
  const from = at;
  at += size;
  if (size === 1) return src[from]!;
  if (size === 2) return (src[from]! << 8) | src[from + 1]!;
  return src[from]! * 0x1000000 + ((src[from + 1]! << 16) | (src[from + 2]! << 8) | src[from + 3]!);
}

/** The next `size` bytes in the scratch view. */
function view(size: 4 | 8): DataView {
  for (let i = 0; i < size; i++) scratch[i] = src[at + i]!;
  at += size;
  return scratchView;
}

function array(length: number): unknown[] {
  const items = new Array<unknown>(length);
  for (let i = 0; i < length; i++) items[i] = read();
  return items;
}

function map(length: number): Record<string, unknown> {
  const object: Record<string, unknown> = {};
  for (let i = 0; i < length; i++) {
    const token = src[at]!;
    let key: string;
    if (token >= 0xa0 && token < 0xc0) {
      at++;
      key = shortKey(token & 0x1f);
    } else {
      key = String(read());
    }
    if (key === '__proto__') key = '__proto_';
    object[key] = read();
  }
  return object;
}

function bin(length: number): Uint8Array {
  const from = at;
  at += length;
  return src.subarray(from, at);
}

// Keys seen before, by a hash of their bytes: frames repeat the same few keys, and one lookup
// costs less than building the string again. Only ASCII keys are kept (compared byte by char).
const KEY_CACHE_SIZE = 4096;
const keyCache = new Array<string | undefined>(KEY_CACHE_SIZE).fill(undefined);

function shortKey(length: number): string {
  if (length === 0) return '';
  const from = at;
  const slot =
    ((length << 7) ^
      (src[from]! << 3) ^
      src[from + length - 1]! ^
      (src[from + (length >> 1)]! << 5)) &
    (KEY_CACHE_SIZE - 1);
  const cached = keyCache[slot];
  if (cached !== undefined && cached.length === length) {
    let same = true;
    for (let i = 0; i < length; i++) {
      if (cached.charCodeAt(i) !== src[from + i]) {
        same = false;
        break;
      }
    }
    if (same) {
      at += length;
      return cached;
    }
  }
  const key = string(length);
  if (key.length === length) keyCache[slot] = key; // as many chars as bytes: ASCII
  return key;
}

const fromCharCode = String.fromCharCode;

/** Messages up to this size have their ASCII strings cut from one Latin-1 decoding of the whole. */
const WHOLE_TEXT_MAX_BYTES = 8 * 1024;

function string(length: number): string {
  const from = at;
  const end = from + length;
  at = end;
  // Not ASCII, or long: Buffer's decoder (invalid UTF-8, a lone surrogate too, becomes U+FFFD).
  if (length > 64) return buffer.toString('utf8', from, end);
  let bits = 0;
  for (let i = from; i < end; i++) bits |= src[i]!;
  if (bits >= 0x80) return buffer.toString('utf8', from, end);
  if (length < 8) return shortAscii(from, length);
  // ASCII: from the second such string on, cut from one decoding of the whole message rather
  // than a call into the runtime per string (the slices keep a small message's text alive as
  // long as they live).
  if (text !== undefined) return text.slice(from, end);
  if (asciiStrings++ > 0 && src.length <= WHOLE_TEXT_MAX_BYTES) {
    text = buffer.toString('latin1', 0, src.length);
    return text.slice(from, end);
  }
  return buffer.toString('latin1', from, end);
}

/** A few ASCII bytes as a string, with no call into the runtime (one char comes from V8's cache). */
function shortAscii(from: number, length: number): string {
  const s = src;
  switch (length) {
    case 0:
      return '';
    case 1:
      return fromCharCode(s[from]!);
    case 2:
      return fromCharCode(s[from]!, s[from + 1]!);
    case 3:
      return fromCharCode(s[from]!, s[from + 1]!, s[from + 2]!);
    case 4:
      return fromCharCode(s[from]!, s[from + 1]!, s[from + 2]!, s[from + 3]!);
    case 5:
      return fromCharCode(s[from]!, s[from + 1]!, s[from + 2]!, s[from + 3]!, s[from + 4]!);
    case 6:
      return fromCharCode(
        s[from]!,
        s[from + 1]!,
        s[from + 2]!,
        s[from + 3]!,
        s[from + 4]!,
        s[from + 5]!,
      );
    default:
      return fromCharCode(
        s[from]!,
        s[from + 1]!,
        s[from + 2]!,
        s[from + 3]!,
        s[from + 4]!,
        s[from + 5]!,
        s[from + 6]!,
      );
  }
}

function ext(length: number): unknown {
  const type = src[at++]!;
  const from = at;
  at += length;
  switch (type) {
    case EXT_TIMESTAMP:
      return timestamp(from, length);
    case EXT_MEDIA:
      return decodeMediaPayload(src, from, at);
    case EXT_BIG_INTEGER:
      return bigInteger(from, length);
    default: // EXT_UNDEFINED, the only other type the scan lets through
      return undefined;
  }
}

/** The MessagePack timestamp in its 4, 8 or 12-byte form (msgpackr's 1-byte invalid Date). */
function timestamp(from: number, length: number): Date {
  const word = (offset: number): number => {
    at = from + offset;
    return uint(4);
  };
  try {
    if (length === 4) return new Date(word(0) * 1000);
    if (length === 8) {
      const high = word(0);
      const low = word(4);
      const nanoseconds = high >>> 2;
      const seconds = (high & 0x3) * 0x100000000 + low;
      return new Date(seconds * 1000 + nanoseconds / 1e6);
    }
    if (length === 12) {
      const nanoseconds = word(0);
      const seconds = Number(view(8).getBigInt64(0));
      return new Date(seconds * 1000 + nanoseconds / 1e6);
    }
    return new Date(NaN);
  } finally {
    at = from + length;
  }
}

/** Big-endian two's complement of any length, as a BigInt. */
function bigInteger(from: number, length: number): bigint {
  const unsigned = BigInt(`0x${buffer.toString('hex', from, from + length)}`);
  return (src[from]! & 0x80) === 0 ? unsigned : unsigned - (1n << BigInt(length * 8));
}
