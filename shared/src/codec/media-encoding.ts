import { randomBytes } from 'node:crypto';
import { Media } from '../values/media.ts';
import { encodeMediaExt } from './media-ext.ts';

/**
 * Whether an encoding may hold a Media value: every Media the generic encoder meets without an
 * extension for it is written as a map whose first key is `contentType` (a fixstr of 11 bytes).
 * An encoding without these bytes holds no Media; one with them may (or holds a `contentType` of
 * the caller's own) and is redone by `encodeWithMedia`.
 */
export function mayHoldMedia(encoded: Buffer): boolean {
  // Past 64 KiB, the walk over the value in encodeWithMedia costs less than searching the bytes.
  if (encoded.length > 64 * 1024) return true;
  // A short encoding is searched for the first byte (memchr) and checked by hand: searching for
  // the whole key costs more to set up than that.
  if (encoded.length > 1024) return encoded.indexOf(MEDIA_HINT) !== -1;
  const last = encoded.length - MEDIA_HINT.length;
  let at = encoded.indexOf(0xab);
  while (at !== -1 && at <= last) {
    let same = true;
    for (let i = 1; i < MEDIA_HINT.length; i++) {
      if (encoded[at + i] !== MEDIA_HINT[i]) {
        same = false;
        break;
      }
    }
    if (same) return true;
    at = encoded.indexOf(0xab, at + 1);
  }
  return false;
}

const MEDIA_HINT = Buffer.from('\xabcontentType', 'latin1');

/**
 * Stands for the n-th Media while the rest of the value is encoded: a bin 8 of 20 bytes, a random
 * per-process prefix and n. Never sent (each is replaced), so no value can contain it.
 */
const MARK = randomBytes(16);
const ENCODED_MARK = Buffer.concat([Buffer.from([0xc4, MARK.byteLength + 4]), MARK]);

/**
 * Encodes `value` (which `pack`, the generic encoder that knows nothing of Media, encoded as
 * `encoded`) with every Media in it written as extension type 1: each is replaced by a
 * placeholder in a copy of the objects on its way (the caller's value is untouched), the copy
 * encoded, and the placeholders' bytes replaced by the Media's extension bytes (its bytes copied
 * once, into the result). Media is found where the generic encoder goes: in
 * arrays, objects (own enumerable keys), Maps, Sets and what a class instance's toJSON returns.
 */
export function encodeWithMedia(
  value: unknown,
  encoded: Buffer,
  pack: (value: unknown) => Buffer,
): Buffer {
  const found: Media[] = [];
  const marked = substitute(value, found);
  if (found.length === 0) return encoded; // a key like Media's, no Media
  const withMarks = pack(marked);
  const parts: Buffer[] = [];
  let from = 0;
  for (;;) {
    const at = withMarks.indexOf(ENCODED_MARK, from);
    if (at === -1) break;
    const media = found[withMarks.readUInt32BE(at + ENCODED_MARK.length)]!;
    parts.push(withMarks.subarray(from, at), ...encodeMediaExt(media));
    from = at + ENCODED_MARK.length + 4;
  }
  parts.push(withMarks.subarray(from));
  return Buffer.concat(parts);
}

function placeholder(index: number): Buffer {
  const mark = Buffer.allocUnsafe(MARK.byteLength + 4);
  MARK.copy(mark);
  mark.writeUInt32BE(index, MARK.byteLength);
  return mark;
}

/** `value` with its Media replaced by placeholders; `value` itself when it holds none. */
function substitute(value: unknown, found: Media[]): unknown {
  if (typeof value !== 'object' || value === null) return value;
  if (value instanceof Media) {
    found.push(value);
    return placeholder(found.length - 1);
  }
  if (Array.isArray(value)) {
    let copy: unknown[] | undefined;
    for (let i = 0; i < value.length; i++) {
      const item: unknown = value[i];
      const next = substitute(item, found);
      if (next !== item) {
        copy ??= [...(value as unknown[])];
        copy[i] = next;
      }
    }
    return copy ?? value;
  }
  if (
    ArrayBuffer.isView(value) ||
    value instanceof ArrayBuffer ||
    value instanceof Date ||
    value instanceof Error ||
    value instanceof RegExp
  ) {
    return value;
  }
  if (value instanceof Map) {
    let changed = false;
    const entries = [...(value as Map<unknown, unknown>)].map(([key, item]) => {
      const [nextKey, nextItem] = [substitute(key, found), substitute(item, found)];
      if (nextKey !== key || nextItem !== item) changed = true;
      return [nextKey, nextItem] as const;
    });
    return changed ? new Map(entries) : value;
  }
  if (value instanceof Set) {
    const items = [...(value as Set<unknown>)];
    const next = substitute(items, found);
    return next === items ? value : next; // the generic encoder writes a Set as its array
  }
  const object = value as Record<string, unknown>;
  if (object.constructor !== Object && typeof object.toJSON === 'function') {
    const json: unknown = (object.toJSON as () => unknown)();
    if (json !== object) {
      const next = substitute(json, found);
      return next === json ? value : next;
    }
  }
  // The keys the generic encoder writes: for-in, own ones unless there is no hasOwnProperty.
  const ownOnly = typeof object.hasOwnProperty === 'function';
  const keys: string[] = [];
  const items: unknown[] = [];
  let changed = false;
  for (const key in object) {
    if (ownOnly && !Object.hasOwn(object, key)) continue;
    const item = object[key];
    const next = substitute(item, found);
    if (next !== item) changed = true;
    keys.push(key);
    items.push(next);
  }
  if (!changed) return value;
  const copy = Object.create(null) as Record<string, unknown>; // `__proto__` stays a plain key
  for (let i = 0; i < keys.length; i++) copy[keys[i]!] = items[i];
  return copy;
}
