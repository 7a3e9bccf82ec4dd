import { SwitchboardError } from '../errors/switchboard-error.ts';
import { MAX_CALL_ID } from './frames.ts';

// Field readers of the decode gate and its rule modules: each returns the typed value or throws
// SB_ERR_PROTO_BAD_FRAME.

/** A decoded MessagePack map. */
export type Obj = Record<string, unknown>;

/** `{ [key]: value }` when the field is present, else `{}` (to spread into a frame). */
export function optional<K extends string, T>(
  raw: Obj,
  key: K,
  read: (raw: Obj, key: string) => T,
) {
  return (raw[key] === undefined ? {} : { [key]: read(raw, key) }) as { [P in K]?: T };
}

/** A string field. */
export function str(raw: Obj, key: string): string {
  const value = raw[key];
  if (typeof value !== 'string') throw bad(`${key} must be a string`);
  return value;
}

/** A non-negative safe integer field. */
export function uint(raw: Obj, key: string): number {
  const value = raw[key];
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 0) {
    throw bad(`${key} must be a non-negative integer`);
  }
  return value;
}

/** A positive safe integer field. */
export function positiveInt(raw: Obj, key: string): number {
  const value = uint(raw, key);
  if (value === 0) throw bad(`${key} must be positive`);
  return value;
}

/** A frame's `id`: an unsigned 32-bit integer. */
export function callId(raw: Obj): number {
  const id = uint(raw, 'id');
  if (id > MAX_CALL_ID) throw bad('id must fit in 32 bits');
  return id;
}

/** A stream id in field `key`: an unsigned 32-bit integer. */
export function streamIdOf(raw: Obj, key: string): number {
  const id = uint(raw, key);
  if (id > MAX_CALL_ID) throw bad(`${key} must fit in 32 bits`);
  return id;
}

/** An optional array field (absent → empty), each item checked by `read`. */
export function list<T>(raw: Obj, key: string, read: (item: unknown) => T): T[] {
  const value = raw[key];
  if (value === undefined) return [];
  if (!Array.isArray(value)) throw bad(`${key} must be an array`);
  return value.map(read);
}

/** A map of strings to strings (`what` names it in the error). */
export function stringMap(value: unknown, what: string): Record<string, string> {
  if (!isPlainObject(value)) throw bad(`${what} must be a map`);
  for (const item of Object.values(value))
    if (typeof item !== 'string') throw bad(`${what} values must be strings`);
  return value as Record<string, string>;
}

/** Whether `value` is a plain map (what the decoder makes of a MessagePack map). */
export function isPlainObject(value: unknown): value is Obj {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return false;
  const proto: unknown = Object.getPrototypeOf(value);
  return proto === Object.prototype || proto === null;
}

/** A short, safe rendering of an unexpected value for an error message. */
export function describe(value: unknown): string {
  if (typeof value === 'string') return JSON.stringify(value.slice(0, 60));
  return typeof value;
}

/** SB_ERR_PROTO_BAD_FRAME: the frame is not what the protocol allows. */
export function bad(message: string): SwitchboardError {
  return new SwitchboardError('SB_ERR_PROTO_BAD_FRAME', message);
}
