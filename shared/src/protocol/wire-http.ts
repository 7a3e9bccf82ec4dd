import type { User } from '../users/user.ts';

// HTTP requests and answers as they travel between the door and a provider (inside `request`
// and `result` frames), with Switchboard's own request state and a handler's effects on it.

/** One value in a cookie jar: the value and when it expires (ms since the epoch). */
export interface CookieEntry {
  value: unknown;
  expiresAt: number;
}

export type CookieJarContent = Record<string, CookieEntry>;

/** Switchboard's own state of a request, decrypted and loaded by the door. */
export interface WireRequestState {
  /** The session's values (empty for a new session or a cross-site request). */
  session: Record<string, unknown>;
  cookies: { local: CookieJarContent; shared: CookieJarContent };
}

/** What a handler changed in the request state; the door saves it and sets the cookies. */
export interface WireEffects {
  /** Session keys set (to their new value) and deleted, merged key by key into the stored session. */
  session?: { set: Record<string, unknown>; delete: string[] };
  /** The session's signed-in user: a user id, or null to sign out. */
  sessionUser?: number | null;
  /** The complete new content of each cookie jar that changed. */
  cookies?: { local?: CookieJarContent; shared?: CookieJarContent };
}

/** An HTTP request as the door forwards it; the uplink builds the rich request object from it. */
export interface WireHttpRequest {
  method: string;
  /** Path below /_/api, still percent-encoded as received. */
  path: string;
  /** Path parameters, URL-decoded. */
  params: Record<string, string>;
  /** The raw query string without `?`. */
  query: string;
  /** Header names lower-case; repeated headers joined as Node joins them. */
  headers: Record<string, string | string[]>;
  remoteAddress: string;
  /** The body bytes as received (absent when there was none). */
  body?: Uint8Array;
  /** Instead of `body`: the id of a stream the server sends the body on (endpoints with `maxBodyBytes`). */
  bodyStream?: number;
  /** Where the server is reached, honouring a configured public origin. */
  appOrigin: string;
  apiOrigin: string;
  /** The signed-in user (authenticateUsers, or the session's user on a same-site request). */
  user?: User;
  /** Session and cookies; absent when the request carried none (a fresh, empty state). */
  state?: WireRequestState;
}

/** What a handler's value becomes on its way back to the door. */
export interface WireHttpResponse {
  status: number;
  headers: Record<string, string | string[]>;
  body?: Uint8Array;
  /**
   * Instead of `body`: the id of a byte stream the provider sends after this answer (`chunk`
   * frames, then `end`), for a body produced while it is sent.
   */
  stream?: number;
  /** Changes to the session and cookies; absent when the handler changed nothing. */
  effects?: WireEffects;
}
