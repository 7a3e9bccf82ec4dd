import { Packr, addExtension } from 'msgpackr';
import { SwitchboardError } from '../errors/switchboard-error.ts';
import { Media } from '../values/media.ts';
import { packMedia, unpackMedia } from './media-ext.ts';

/** MessagePack extension type carrying a Media value: payload is msgpack `[contentType, name|nil, bin]`. */
export const MEDIA_EXT_TYPE = 1;

addExtension({
  Class: Media,
  type: MEDIA_EXT_TYPE,
  pack: packMedia,
  unpack: unpackMedia,
});

/**
 * The codec options, pinned once for both directions. Plain MessagePack only: no records,
 * no structured clone, no typed-array extensions, so any MessagePack library can read it.
 * - `undefined` travels as fixext1 type 0 (msgpackr's convention), `null` as nil;
 * - Date as the standard timestamp extension (-1);
 * - BigInt as int64/uint64, or extension 0x42 (big-endian two's complement) beyond 64 bits;
 *   64-bit integers always decode as BigInt, so a BigInt round-trips as a BigInt.
 */
const packr = new Packr({
  useRecords: false,
  moreTypes: false,
  structuredClone: false,
  mapsAsObjects: true,
  useBigIntExtension: true,
  int64AsType: 'bigint',
  encodeUndefinedAsNil: false,
});

/** Encodes one value (a frame or any payload). Throws SB_ERR_VALUE_NOT_SERIALIZABLE. */
export function encodeValue(value: unknown): Buffer {
  try {
    return packr.pack(value);
  } catch (error) {
    throw new SwitchboardError(
      'SB_ERR_VALUE_NOT_SERIALIZABLE',
      `Value cannot be encoded: ${error instanceof Error ? error.message : String(error)}`,
      { cause: error },
    );
  }
}

/** Decodes exactly one value; trailing bytes or truncation are SB_ERR_PROTO_BAD_FRAME. */
export function decodeValue(bytes: Uint8Array): unknown {
  try {
    return packr.unpack(bytes);
  } catch (error) {
    throw badBytes(error);
  }
}

/** Decodes every value concatenated in one message (frames batched into one WebSocket message). */
export function decodeValues(bytes: Uint8Array): unknown[] {
  try {
    return packr.unpackMultiple(bytes) as unknown[];
  } catch (error) {
    throw badBytes(error);
  }
}

function badBytes(error: unknown): SwitchboardError {
  if (error instanceof SwitchboardError) return error;
  return new SwitchboardError(
    'SB_ERR_PROTO_BAD_FRAME',
    `Undecodable MessagePack: ${error instanceof Error ? error.message : String(error)}`,
  );
}
