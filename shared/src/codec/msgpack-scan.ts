import { SwitchboardError } from '../errors/switchboard-error.ts';
import { MAX_DECODE_DEPTH, type DecodeLimits } from './decode-limits.ts';
import { mediaPayloadProblem } from './media-ext.ts';

/** The extension types of the protocol (docs/protocol.md, "Values"); any other is refused. */
export const EXT_UNDEFINED = 0;
export const EXT_TIMESTAMP = 0xff; // -1 as the unsigned byte on the wire
export const EXT_MEDIA = 1;
export const EXT_BIG_INTEGER = 0x42;
/** Longest big-integer payload accepted: 8,192 bits (turning more into a BigInt costs more). */
export const MAX_BIG_INTEGER_BYTES = 1024;

// Per level of nesting: the items still to read in the open container (a map's keys and values
// both count), and whether it is a map. Reused by every scan (a scan runs to its end
// synchronously and calls nothing that could start another).
const left = new Float64Array(MAX_DECODE_DEPTH + 1);
const inMap = new Uint8Array(MAX_DECODE_DEPTH + 1);

/**
 * Walks the structure of untrusted MessagePack without building anything, and throws
 * SB_ERR_PROTO_BAD_FRAME at the first thing the decoder must not be given: a value count or
 * nesting depth over `limits`, a declared length longer than the bytes that remain (an array of
 * n items needs at least n more bytes, a map of n pairs 2n), a byte never used (0xc1), an
 * extension type the protocol does not define or a malformed one of its own, a map key that is
 * not a string or a scalar, truncation, and trailing bytes unless `multiple` (several values one
 * after another, as a batched message carries them). Linear in the bytes; allocates nothing.
 */
export function scanMessage(bytes: Uint8Array, limits: DecodeLimits, multiple: boolean): void {
  const end = bytes.length;
  const { maxDepth, maxValues } = limits;
  let at = 0;
  let values = 0;
  let depth = 0;
  for (;;) {
    if (at >= end) throw bad(at, 'the data ends inside a value');
    const start = at;
    const token = bytes[at]!;
    if (++values > maxValues) throw bad(start, `more than ${maxValues} values in one message`);
    if (inMap[depth] === 1 && (left[depth]! & 1) === 0 && !isKeyToken(token)) {
      throw bad(start, `a map key of type 0x${token.toString(16)} (keys are strings or scalars)`);
    }
    let items = -1; // a container's items (keys and values), -1 for a scalar
    let map = false;
    if (token < 0x80 || token >= 0xe0) {
      at++; // fixint
    } else if (token < 0x90) {
      items = (token & 0x0f) * 2;
      map = true;
      at++;
    } else if (token < 0xa0) {
      items = token & 0x0f;
      at++;
    } else if (token < 0xc0) {
      at += 1 + (token & 0x1f);
    } else {
      switch (token) {
        case 0xc0:
        case 0xc2:
        case 0xc3:
          at++;
          break;
        case 0xc1:
          throw bad(start, 'byte 0xc1 is never used in MessagePack');
        case 0xca:
          at += 5;
          break;
        case 0xcb:
          at += 9;
          break;
        case 0xcc:
        case 0xd0:
          at += 2;
          break;
        case 0xcd:
        case 0xd1:
          at += 3;
          break;
        case 0xce:
        case 0xd2:
          at += 5;
          break;
        case 0xcf:
        case 0xd3:
          at += 9;
          break;
        case 0xc4:
        case 0xd9:
          at = body(bytes, at, 1);
          break;
        case 0xc5:
        case 0xda:
          at = body(bytes, at, 2);
          break;
        case 0xc6:
        case 0xdb:
          at = body(bytes, at, 4);
          break;
        case 0xd4:
          at = extension(bytes, at, 1, 0);
          break;
        case 0xd5:
          at = extension(bytes, at, 2, 0);
          break;
        case 0xd6:
          at = extension(bytes, at, 4, 0);
          break;
        case 0xd7:
          at = extension(bytes, at, 8, 0);
          break;
        case 0xd8:
          at = extension(bytes, at, 16, 0);
          break;
        case 0xc7:
          at = extension(bytes, at, readLength(bytes, at, 1), 1);
          break;
        case 0xc8:
          at = extension(bytes, at, readLength(bytes, at, 2), 2);
          break;
        case 0xc9:
          at = extension(bytes, at, readLength(bytes, at, 4), 4);
          break;
        case 0xdc:
          items = readLength(bytes, at, 2);
          at += 3;
          break;
        case 0xdd:
          items = readLength(bytes, at, 4);
          at += 5;
          break;
        case 0xde:
          items = readLength(bytes, at, 2) * 2;
          map = true;
          at += 3;
          break;
        case 0xdf:
          items = readLength(bytes, at, 4) * 2;
          map = true;
          at += 5;
          break;
        default:
          throw bad(start, `unexpected byte 0x${token.toString(16)}`); // not reached
      }
    }
    if (at > end) throw bad(start, 'the data ends inside a value');
    if (items >= 0) {
      if (depth >= maxDepth) throw bad(start, `containers nested deeper than ${maxDepth}`);
      if (items > end - at) {
        throw bad(
          start,
          `a ${map ? 'map' : 'array'} of ${map ? items / 2 : items} ${map ? 'pairs' : 'items'} ` +
            `needs at least ${items} more bytes, ${end - at} remain`,
        );
      }
      if (items > 0) {
        depth++;
        left[depth] = items;
        inMap[depth] = map ? 1 : 0;
        continue;
      }
    }
    // One value is complete: count it off its container, and off the ones that it completes.
    let open = false;
    while (depth > 0) {
      const rest = left[depth]! - 1;
      left[depth] = rest;
      if (rest > 0) {
        open = true;
        break;
      }
      depth--;
    }
    if (open) continue;
    if (at === end) return;
    if (!multiple) throw bad(at, `${end - at} bytes after the value`);
  }
}

/** Strings, numbers, booleans and nil may be map keys (non-strings become their text). */
function isKeyToken(token: number): boolean {
  return (
    token < 0x80 ||
    (token >= 0xa0 && token < 0xc0) ||
    token >= 0xe0 ||
    token === 0xc0 ||
    token === 0xc2 ||
    token === 0xc3 ||
    (token >= 0xca && token <= 0xd3) ||
    (token >= 0xd9 && token <= 0xdb)
  );
}

/** The big-endian length of `size` bytes after the token at `at`. */
function readLength(bytes: Uint8Array, at: number, size: 1 | 2 | 4): number {
  if (at + 1 + size > bytes.length) throw bad(at, 'the data ends inside a header');
  if (size === 1) return bytes[at + 1]!;
  if (size === 2) return (bytes[at + 1]! << 8) | bytes[at + 2]!;
  return (
    bytes[at + 1]! * 0x1000000 + ((bytes[at + 2]! << 16) | (bytes[at + 3]! << 8) | bytes[at + 4]!)
  );
}

/** Where a str or bin whose length takes `size` bytes ends. */
function body(bytes: Uint8Array, at: number, size: 1 | 2 | 4): number {
  const length = readLength(bytes, at, size);
  const from = at + 1 + size;
  if (length > bytes.length - from) {
    throw bad(at, `declares ${length} bytes, ${bytes.length - from} remain`);
  }
  return from + length;
}

/**
 * Checks an extension value (`length` data bytes, after a length field of `size` bytes) and
 * returns where it ends. Only the protocol's own types, in their own forms, pass.
 */
function extension(bytes: Uint8Array, at: number, length: number, size: 0 | 1 | 2 | 4): number {
  const typeAt = at + 1 + size;
  const from = typeAt + 1;
  if (from > bytes.length) throw bad(at, 'the data ends inside a header');
  if (length > bytes.length - from) {
    throw bad(at, `an extension declares ${length} bytes, ${bytes.length - from} remain`);
  }
  const type = bytes[typeAt]!;
  switch (type) {
    case EXT_UNDEFINED:
      // fixext 1 with a zero byte; the only form of undefined.
      if (size !== 0 || length !== 1 || bytes[from] !== 0) throw bad(at, 'malformed undefined');
      break;
    case EXT_TIMESTAMP:
      // The three standard forms, and msgpackr's fixext 1 0xff for an invalid Date.
      if (
        length !== 4 &&
        length !== 8 &&
        length !== 12 &&
        !(length === 1 && size === 0 && bytes[from] === 0xff)
      ) {
        throw bad(at, `a timestamp of ${length} bytes`);
      }
      break;
    case EXT_MEDIA: {
      const problem = mediaPayloadProblem(bytes, from, from + length);
      if (problem !== undefined) throw bad(at, `malformed Media: ${problem}`);
      break;
    }
    case EXT_BIG_INTEGER:
      if (length < 1 || length > MAX_BIG_INTEGER_BYTES) {
        throw bad(at, `a big integer of ${length} bytes (1 to ${MAX_BIG_INTEGER_BYTES})`);
      }
      break;
    default:
      throw bad(at, `extension type ${(type << 24) >> 24} is not part of the protocol`);
  }
  return from + length;
}

function bad(at: number, what: string): SwitchboardError {
  return new SwitchboardError(
    'SB_ERR_PROTO_BAD_FRAME',
    `Undecodable MessagePack at byte ${at}: ${what}`,
  );
}
