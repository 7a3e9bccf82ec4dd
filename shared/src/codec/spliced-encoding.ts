import { randomBytes } from 'node:crypto';
import type { LocalHttpRequest } from '../http/http-request.ts';
import type { AnyFrame } from '../protocol/frames.ts';
import { encodeValue } from './msgpack-codec.ts';
import { encodeRequestFrame } from './request-encoding.ts';

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
 * its bin 32 header, the byte string itself (by reference, maybe in several chunks), and the
 * encoding after it. The concatenated parts are exactly what `encodeValue` of the original frame
 * would produce (msgpackr writes a byte string of 64 KiB or more as bin 32 too); a request body
 * given as `bodyChunks` is written as the request's last field, `body`.
 */
export interface SplicedMessage {
  readonly parts: readonly Buffer[];
  readonly byteLength: number;
}

/**
 * Encodes a frame that carries one large byte string (an HTTP body on its way to or from an
 * uplink, also as the chunks it arrived in, or a bytes result) without copying it into the
 * encoding; undefined when the frame has none at the places checked. Semantically invisible:
 * the receiver sees the same bytes.
 */
export function encodeSpliced(frame: AnyFrame): SplicedMessage | undefined {
  const detached = detachLargeBytes(frame);
  if (detached === undefined) return undefined;
  const encoded = encodeValue(detached.marked);
  const at = encoded.indexOf(ENCODED_MARK);
  if (at === -1) return undefined; // not reached by the encoder: encode it the plain way
  const { chunks, byteLength } = detached;
  const head = Buffer.allocUnsafe(at + 5);
  encoded.copy(head, 0, 0, at);
  head[at] = 0xc6; // bin 32
  head.writeUInt32BE(byteLength, at + 1);
  const tail = encoded.subarray(at + ENCODED_MARK.byteLength);
  const parts = [head, ...chunks];
  if (tail.byteLength > 0) parts.push(tail);
  return { parts, byteLength: head.byteLength + byteLength + tail.byteLength };
}

/** A frame's encoding: spliced when it carries a large byte string, else one buffer. */
export function encodeFrame(frame: AnyFrame): Buffer | SplicedMessage {
  const spliced = encodeSpliced(frame);
  if (spliced !== undefined) return spliced;
  // Also a request whose body is still in chunks too small to splice: they are copied in.
  if (frame.type === 'request') return encodeRequestFrame(frame);
  return encodeValue(frame);
}

/** The encoding as one buffer (copies a spliced one). */
export function joined(encoded: Buffer | SplicedMessage): Buffer {
  return Buffer.isBuffer(encoded) ? encoded : Buffer.concat(encoded.parts, encoded.byteLength);
}

interface Detached {
  marked: AnyFrame;
  chunks: readonly Buffer[];
  byteLength: number;
}

/**
 * The frame with its large byte string replaced by MARK (copies only the objects on the way
 * to it, so the caller's frame is untouched). Checked places: a request's body, a result value
 * that is bytes, and the `body` of a plain result value (an HTTP answer).
 */
function detachLargeBytes(frame: AnyFrame): Detached | undefined {
  switch (frame.type) {
    case 'request': {
      // Checked before anything is copied: most requests carry no large body.
      const local = frame.request as LocalHttpRequest;
      if (local.bodyChunks !== undefined) {
        const byteLength = totalLength(local.bodyChunks);
        if (byteLength < SPLICE_MIN_BYTES) return undefined;
        const { bodyChunks, ...request } = local;
        return {
          marked: { ...frame, request: { ...request, body: MARK } },
          chunks: bodyChunks,
          byteLength,
        };
      }
      const body = local.body;
      if (!isLarge(body)) return undefined;
      return { marked: { ...frame, request: { ...local, body: MARK } }, ...single(body) };
    }
    case 'result': {
      const value: unknown = frame.value;
      if (isLarge(value)) return { marked: { ...frame, value: MARK }, ...single(value) };
      if (!isPlainObject(value)) return undefined;
      const body = value['body'];
      if (!isLarge(body)) return undefined;
      return { marked: { ...frame, value: { ...value, body: MARK } }, ...single(body) };
    }
    default:
      return undefined;
  }
}

function single(bytes: Uint8Array): { chunks: Buffer[]; byteLength: number } {
  const buffer = Buffer.isBuffer(bytes)
    ? bytes
    : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  return { chunks: [buffer], byteLength: buffer.byteLength };
}

function totalLength(chunks: readonly Buffer[]): number {
  let total = 0;
  for (const chunk of chunks) total += chunk.byteLength;
  return total;
}

function isLarge(value: unknown): value is Uint8Array {
  return value instanceof Uint8Array && value.byteLength >= SPLICE_MIN_BYTES;
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  if (typeof value !== 'object' || value === null) return false;
  const prototype: unknown = Object.getPrototypeOf(value);
  return prototype === Object.prototype || prototype === null;
}
