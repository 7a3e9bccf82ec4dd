import type { User } from '../users/user.ts';
import { bad, isPlainObject, str, streamIdOf, stringMap } from './field-readers.ts';
import type { CookieJarContent, WireHttpRequest, WireRequestState } from './wire-http.ts';

// The decode gate's checks of an HTTP request as the door forwards it: headers, body, the
// request state with its cookie jars, the user.

/** The `request` of a `request` frame: the HTTP request as the door forwards it. */
export function httpRequest(value: unknown): WireHttpRequest {
  if (!isPlainObject(value)) throw bad('request must be a map');
  const params = stringMap(value.params, 'request.params');
  const headers = value.headers;
  if (!isPlainObject(headers)) throw bad('request.headers must be a map');
  for (const header of Object.values(headers)) {
    if (
      typeof header !== 'string' &&
      !(Array.isArray(header) && header.every((h) => typeof h === 'string'))
    ) {
      throw bad('request.headers values must be strings or string arrays');
    }
  }
  const body = value.body;
  if (body !== undefined && body !== null && !(body instanceof Uint8Array))
    throw bad('request.body must be bytes');
  const request: WireHttpRequest = {
    method: str(value, 'method'),
    path: str(value, 'path'),
    params,
    query: str(value, 'query'),
    headers: headers as Record<string, string | string[]>,
    remoteAddress: str(value, 'remoteAddress'),
    appOrigin: str(value, 'appOrigin'),
    apiOrigin: str(value, 'apiOrigin'),
  };
  if (body instanceof Uint8Array) request.body = body;
  if (value.bodyStream !== undefined) request.bodyStream = streamIdOf(value, 'bodyStream');
  if (value.user !== undefined) request.user = user(value.user);
  if (value.state !== undefined) request.state = requestState(value.state);
  return request;
}

function requestState(value: unknown): WireRequestState {
  if (!isPlainObject(value)) throw bad('request.state must be a map');
  const session = value.session;
  const cookies = value.cookies;
  if (!isPlainObject(session)) throw bad('request.state.session must be a map');
  if (!isPlainObject(cookies)) throw bad('request.state.cookies must be a map');
  return {
    session,
    cookies: { local: cookieJar(cookies.local), shared: cookieJar(cookies.shared) },
  };
}

/** Checks a cookie jar's content (also used by the door on a handler's effects). */
export function cookieJar(value: unknown): CookieJarContent {
  if (!isPlainObject(value)) throw bad('a cookie jar must be a map');
  for (const entry of Object.values(value)) {
    if (!isPlainObject(entry) || typeof entry.expiresAt !== 'number' || !('value' in entry))
      throw bad('a cookie jar entry must be { value, expiresAt }');
  }
  return value as CookieJarContent;
}

/** A user as the server sends it (its own record, so only its shape is checked). */
export function user(value: unknown): User {
  if (!isPlainObject(value) || typeof value.id !== 'number' || typeof value.email !== 'string')
    throw bad('a user must be a map with id and email');
  return value as unknown as User;
}
