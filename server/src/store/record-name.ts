import { SwitchboardError, type ErrorCode } from '@switchboard/shared';

/** Longest name of a key or an admin token. */
export const MAX_RECORD_NAME_LENGTH = 200;

/**
 * A key's or admin token's name, trimmed: 1 to 200 characters without control characters (it
 * is printed in tables and logs). Anything else throws `code`.
 */
export function recordName(value: unknown, what: string, code: ErrorCode): string {
  const trimmed = typeof value === 'string' ? value.trim() : '';
  const control = [...trimmed].some((char) => {
    const point = char.codePointAt(0)!;
    return point < 0x20 || point === 0x7f;
  });
  if (trimmed === '' || trimmed.length > MAX_RECORD_NAME_LENGTH || control) {
    throw new SwitchboardError(
      code,
      `A ${what} name is 1 to ${MAX_RECORD_NAME_LENGTH} characters without control characters`,
    );
  }
  return trimmed;
}
