import { randomBytes } from 'node:crypto';
import type { AnyFrame } from '../protocol/frames.ts';
import { encodeValue } from './msgpack-codec.ts';

/**
 * Byte strings at least this large are spliced into their frame's encoding by reference
 * (never copied into it). Below this, one copy costs less than writing a separate part.
 */
export const SPLICE_MIN_BYTES = 64 * 1024;

/**
 * Stands for the large byte string while the rest of the frame is encoded. Random per process
 * and never sent (it is cut out again), so no peer-supplied value can contain its encoding.
 */
const MARK = randomBytes(16);
/** How MessagePack encodes MARK: bin 8, length 16, the bytes. */
const ENCODED_MARK = Buffer.concat([Buffer.from([0xc4, MARK.byteLength]), MARK]);

/**
 * One MessagePack value as consecutive parts: the encoding before the large byte string with
 * its bin 32 header, the byte string itself (by reference), and the encoding after it. The
 * concatenated parts are exactly what `encodeValue` of the original frame would produce
 * (msgpackr writes a byte string of 64 KiB or more as bin 32 too).
 */
export interface SplicedMessage {
  readonly parts: readonly Buffer[];
  readonly byteLength: number;
}

/**
 * Encodes a frame that carries one large byte string (an HTTP body on its way to or from an
 * uplink, or a bytes result) without copying it into the encoding; undefined when the frame
 * has none at the places checked. Semantically invisible: the receiver sees the same bytes.
 */
export function encodeSpliced(frame: AnyFrame): SplicedMessage | undefined {
  const detached = detachLargeBytes(frame);
  if (detached === undefined) return undefined;
  const encoded = encodeValue(detached.marked);
  const at = encoded.indexOf(ENCODED_MARK);
  if (at === -1) return undefined; // not reached by the encoder: encode it the plain way
  const bytes = detached.bytes;
  const head = Buffer.allocUnsafe(at + 5);
  encoded.copy(head, 0, 0, at);
  head[at] = 0xc6; // bin 32
  head.writeUInt32BE(bytes.byteLength, at + 1);
  const tail = encoded.subarray(at + ENCODED_MARK.byteLength);
  const body = Buffer.isBuffer(bytes)
    ? bytes
    : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const parts = tail.byteLength === 0 ? [head, body] : [head, body, tail];
  return { parts, byteLength: head.byteLength + body.byteLength + tail.byteLength };
}

/** A frame's encoding: spliced when it carries a large byte string, else one buffer. */
export function encodeFrame(frame: AnyFrame): Buffer | SplicedMessage {
  return encodeSpliced(frame) ?? encodeValue(frame);
}

/** The encoding as one buffer (copies a spliced one). */
export function joined(encoded: Buffer | SplicedMessage): Buffer {
  return Buffer.isBuffer(encoded) ? encoded : Buffer.concat(encoded.parts, encoded.byteLength);
}

interface Detached {
  marked: AnyFrame;
  bytes: Uint8Array;
}

/**
 * The frame with its large byte string replaced by MARK (copies only the objects on the way
 * to it, so the caller's frame is untouched). Checked places: a request's body, a result value
 * that is bytes, and the `body` of a plain result value (an HTTP answer).
 */
function detachLargeBytes(frame: AnyFrame): Detached | undefined {
  switch (frame.type) {
    case 'request': {
      const body = frame.request.body;
      if (!isLarge(body)) return undefined;
      return { marked: { ...frame, request: { ...frame.request, body: MARK } }, bytes: body };
    }
    case 'result': {
      const value: unknown = frame.value;
      if (isLarge(value)) return { marked: { ...frame, value: MARK }, bytes: value };
      if (!isPlainObject(value)) return undefined;
      const body = value['body'];
      if (!isLarge(body)) return undefined;
      return { marked: { ...frame, value: { ...value, body: MARK } }, bytes: body };
    }
    default:
      return undefined;
  }
}

function isLarge(value: unknown): value is Uint8Array {
  return value instanceof Uint8Array && value.byteLength >= SPLICE_MIN_BYTES;
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  if (typeof value !== 'object' || value === null) return false;
  const prototype: unknown = Object.getPrototypeOf(value);
  return prototype === Object.prototype || prototype === null;
}
