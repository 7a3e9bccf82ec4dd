import { SwitchboardError } from '../errors/switchboard-error.ts';
import { bad, describe, type Obj } from './field-readers.ts';

// The rules for names: functions (what `callable`, `register` and `call` accept, and the
// reserved `sb.` prefix) and an uplink's own name in `hello`.

/** Longest function name, in characters. */
const MAX_NAME_LENGTH = 200;
const NAME_PATTERN = /^[A-Za-z0-9_][A-Za-z0-9_.:-]*$/;
/** Longest `hello.name`, in characters (code points). */
export const MAX_UPLINK_NAME_LENGTH = 128;
/**
 * An uplink's name goes into logs, the admin API and callees' `caller.uplinkName`: printable
 * only (no control, format, surrogate or line/paragraph separator characters).
 */
const UPLINK_NAME_PATTERN = /^[^\p{Cc}\p{Cf}\p{Cs}\p{Zl}\p{Zp}]+$/u;
/** Function names starting with this are the server's own built-ins; nobody else registers them. */
export const RESERVED_NAME_PREFIX = 'sb.';

/** Whether `value` is acceptable as a function name (also used by the registries). */
export function isFunctionName(value: unknown): value is string {
  return typeof value === 'string' && value.length <= MAX_NAME_LENGTH && NAME_PATTERN.test(value);
}

/** Whether `value` is acceptable as `hello.name`: 1–128 printable characters. */
export function isUplinkName(value: unknown): value is string {
  if (typeof value !== 'string' || value.length === 0) return false;
  // Cheap bound first: 128 code points are at most 256 UTF-16 units.
  if (value.length > 2 * MAX_UPLINK_NAME_LENGTH) return false;
  return [...value].length <= MAX_UPLINK_NAME_LENGTH && UPLINK_NAME_PATTERN.test(value);
}

/** Whether `name` is under the reserved `sb.` prefix (the server's built-in functions). */
export function isReservedName(name: string): boolean {
  return name.startsWith(RESERVED_NAME_PREFIX);
}

/** Checks the arguments of a `callable(name, fn)`, on the server and in uplinks alike. */
export function assertCallable(name: unknown, fn: unknown): asserts name is string {
  if (!isFunctionName(name)) {
    throw new SwitchboardError(
      'SB_ERR_NAME_INVALID',
      `Invalid function name ${JSON.stringify(name)}`,
    );
  }
  if (isReservedName(name)) {
    throw reservedNameError(name);
  }
  if (typeof fn !== 'function') {
    throw new SwitchboardError('SB_ERR_OPTIONS_INVALID', 'callable needs a function');
  }
}

/** The error for registering a reserved name, the same from `callable` and from the server. */
export function reservedNameError(name: string): SwitchboardError {
  return new SwitchboardError(
    'SB_ERR_NAME_INVALID',
    `Cannot register ${JSON.stringify(name)}: names starting with ${RESERVED_NAME_PREFIX} are reserved`,
  );
}

/** SB_ERR_NAME_INVALID for a function name that is a string but breaks the rules. */
export function invalidName(name: string): SwitchboardError {
  return new SwitchboardError(
    'SB_ERR_NAME_INVALID',
    `Invalid function name ${describe(name)}: 1-${MAX_NAME_LENGTH} characters of A-Z a-z 0-9 _ . : - (not starting with . : -)`,
  );
}

/** A field that must hold a valid function name (else the frame is bad). */
export function functionName(raw: Obj, key: string): string {
  const value = raw[key];
  if (!isFunctionName(value)) throw bad(`invalid function name ${describe(value)}`);
  return value;
}

/** A field that must hold a valid uplink name (else the frame is bad). */
export function uplinkName(raw: Obj, key: string): string {
  const value = raw[key];
  if (!isUplinkName(value))
    throw bad(
      `${key} must be 1-${MAX_UPLINK_NAME_LENGTH} printable characters, got ${describe(value)}`,
    );
  return value;
}
