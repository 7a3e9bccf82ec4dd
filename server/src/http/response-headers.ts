import { validateHeaderName, validateHeaderValue } from 'node:http';
import { SwitchboardError } from '@switchboard/shared';

/**
 * Headers a handler may not set: they frame the message or belong to one connection (RFC 9110
 * §7.6.1, RFC 9112 §6-7), so only the server that writes the bytes can say them truthfully. A
 * handler's copy is dropped, as a proxy drops hop-by-hop headers; so is every header its own
 * `Connection` value names. `content-length` is kept only on an answer to HEAD without a body
 * (the size of what GET would send).
 */
export const SERVER_ONLY_HEADERS: readonly string[] = Object.freeze([
  'connection',
  'content-length',
  'keep-alive',
  'proxy-connection',
  'te',
  'trailer',
  'transfer-encoding',
  'upgrade',
]);

const SERVER_ONLY = new Set(SERVER_ONLY_HEADERS);

/** Whether `name` (any case) is one of SERVER_ONLY_HEADERS; cheap for the common headers. */
function isServerOnly(name: string): boolean {
  switch (name.length) {
    case 2:
    case 7:
    case 10:
    case 14:
    case 16:
    case 17:
      return SERVER_ONLY.has(name.toLowerCase());
    default:
      return false;
  }
}

/** Lower-case header names a `Connection` value lists (its options are hop-by-hop too). */
function connectionOptions(value: unknown): Set<string> | undefined {
  const items = typeof value === 'string' ? [value] : Array.isArray(value) ? value : [];
  let named: Set<string> | undefined;
  for (const item of items) {
    if (typeof item !== 'string') continue;
    for (const token of item.split(',')) {
      const lower = token.trim().toLowerCase();
      if (lower !== '') (named ??= new Set()).add(lower);
    }
  }
  return named;
}

/** What a handler's headers become on the wire. */
export interface AnswerHeaders {
  /** Headers to write, without Set-Cookie. */
  headers: Record<string, string | string[] | number>;
  /** The handler's Set-Cookie values (before the door's own). */
  cookies: string[] | undefined;
  /** Names of handler headers that were dropped (for the debug log); undefined if none. */
  dropped: string[] | undefined;
}

/**
 * Checks a handler's headers and keeps those the server may pass on: framing and hop-by-hop
 * headers are dropped (see SERVER_ONLY_HEADERS); a name or value Node would refuse throws
 * SB_ERR_HTTP_BAD_RESPONSE before anything is written, so the caller gets a coded answer
 * instead of a half-written head. `vary` is joined to the door's own (CORS) when given.
 */
export function answerHeaders(
  given: Readonly<Record<string, unknown>>,
  options: { headOnly: boolean; doorVary: () => number | string | string[] | undefined },
): AnswerHeaders {
  const headers: Record<string, string | string[] | number> = {};
  let cookies: string[] | undefined;
  let dropped: string[] | undefined;
  let named: Set<string> | undefined;
  for (const name in given) {
    if (name.length === 10 && name.toLowerCase() === 'connection') {
      named = connectionOptions(given[name]);
      break;
    }
  }
  try {
    for (const name in given) {
      const value = given[name];
      if (isServerOnly(name) || (named !== undefined && named.has(name.toLowerCase()))) {
        if (
          options.headOnly &&
          name.length === 14 &&
          name.toLowerCase() === 'content-length' &&
          typeof value === 'string' &&
          /^\d{1,15}$/.test(value)
        ) {
          headers['content-length'] = value;
          continue;
        }
        (dropped ??= []).push(name);
        continue;
      }
      validateHeaderName(name);
      const strings = headerStrings(name, value);
      if (name.length === 10 && name.toLowerCase() === 'set-cookie') {
        cookies = typeof strings === 'string' ? [strings] : strings;
        continue;
      }
      const door =
        name.length === 4 && name.toLowerCase() === 'vary' ? options.doorVary() : undefined;
      headers[name] = door === undefined ? strings : `${String(door)}, ${String(strings)}`;
    }
  } catch (error) {
    throw new SwitchboardError(
      'SB_ERR_HTTP_BAD_RESPONSE',
      `The handler set an invalid header: ${error instanceof Error ? error.message : String(error)}`,
    );
  }
  return { headers, cookies, dropped };
}

/** A header value as strings (numbers are written as Node would), refusing what Node refuses. */
function headerStrings(name: string, value: unknown): string | string[] {
  if (typeof value === 'number' && Number.isFinite(value)) return String(value);
  if (typeof value === 'string') {
    validateHeaderValue(name, value);
    return value;
  }
  if (!Array.isArray(value)) throw new TypeError(`${name} has a value that is not a string`);
  const strings: string[] = [];
  for (const item of value as unknown[]) {
    const text = typeof item === 'number' && Number.isFinite(item) ? String(item) : item;
    if (typeof text !== 'string') throw new TypeError(`${name} has a value that is not a string`);
    validateHeaderValue(name, text);
    strings.push(text);
  }
  return strings;
}
