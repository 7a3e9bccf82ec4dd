/** Longest request id accepted from an `X-Request-Id` header, a frame or a caller. */
export const MAX_REQUEST_ID_LENGTH = 128;

const REQUEST_ID = /^[A-Za-z0-9._:@/+=-]{1,128}$/;

/**
 * Whether `value` may serve as a request id: 1–128 characters of letters, digits and
 * `. _ : @ / + = -` (UUIDs, ULIDs, trace ids and the like; nothing that could break a log line
 * or a header).
 */
export function isRequestId(value: unknown): value is string {
  return (
    typeof value === 'string' && value.length <= MAX_REQUEST_ID_LENGTH && REQUEST_ID.test(value)
  );
}
