import { Packr } from 'msgpackr';
import { SwitchboardError } from '../errors/switchboard-error.ts';
import { checkDecodeLimits, DEFAULT_DECODE_LIMITS, type DecodeLimits } from './decode-limits.ts';
import { encodeWithMedia, mayHoldMedia } from './media-encoding.ts';
import { buildValue, buildValues } from './msgpack-decoder.ts';
import { scanMessage } from './msgpack-scan.ts';

export { MEDIA_EXT_TYPE } from './media-ext.ts';

/**
 * The encoder's options, pinned once. Plain MessagePack only: no records, no structured clone,
 * no typed-array extensions, so any MessagePack library can read it.
 * - `undefined` travels as fixext1 type 0 (msgpackr's convention), `null` as nil;
 * - Date as the standard timestamp extension (-1);
 * - BigInt as int64/uint64, or extension 0x42 (big-endian two's complement) beyond 64 bits;
 * - Media as extension 1, written by `encodeWithMedia` (msgpackr's extensions are process-wide,
 *   so none is registered: importing the codec changes nothing for other users of msgpackr).
 * Decoding is the codec's own (`msgpack-scan.ts`, then `msgpack-decoder.ts`): untrusted bytes
 * are checked against limits before anything is built, and only these extensions are read.
 */
export const PACKR_OPTIONS = Object.freeze({
  useRecords: false,
  moreTypes: false,
  structuredClone: false,
  mapsAsObjects: true,
  useBigIntExtension: true,
  int64AsType: 'bigint',
  encodeUndefinedAsNil: false,
} as const);

const packr = new Packr(PACKR_OPTIONS);

const pack = (value: unknown): Buffer => packr.pack(value);

/** Encodes one value (a frame or any payload). Throws SB_ERR_VALUE_NOT_SERIALIZABLE. */
export function encodeValue(value: unknown): Buffer {
  try {
    const encoded = packr.pack(value);
    // Most values hold no Media, and their encoding says so without a walk over the value.
    if (!mayHoldMedia(encoded)) return encoded;
    return encodeWithMedia(value, encoded, pack);
  } catch (error) {
    throw new SwitchboardError(
      'SB_ERR_VALUE_NOT_SERIALIZABLE',
      `Value cannot be encoded: ${error instanceof Error ? error.message : String(error)}`,
      { cause: error },
    );
  }
}

/**
 * Decodes exactly one value of untrusted bytes, within `limits` (default
 * `DEFAULT_DECODE_LIMITS`); anything over them, malformed, truncated or followed by more bytes is
 * SB_ERR_PROTO_BAD_FRAME, found before anything is built.
 */
export function decodeValue(
  bytes: Uint8Array,
  limits: DecodeLimits = DEFAULT_DECODE_LIMITS,
): unknown {
  checkDecodeLimits(limits);
  scanMessage(bytes, limits, false);
  return buildValue(bytes);
}

/**
 * Decodes every value concatenated in one message (frames batched into one WebSocket message);
 * `limits` count over the whole message.
 */
export function decodeValues(
  bytes: Uint8Array,
  limits: DecodeLimits = DEFAULT_DECODE_LIMITS,
): unknown[] {
  checkDecodeLimits(limits);
  scanMessage(bytes, limits, true);
  return buildValues(bytes);
}
