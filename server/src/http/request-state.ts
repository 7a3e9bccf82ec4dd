import { fastifyCookie, type SerializeOptions } from '@fastify/cookie';
import {
  MAX_COOKIE_JAR_JSON_BYTES,
  SwitchboardError,
  cookieJar,
  type CookieJarContent,
  type User,
  type WireEffects,
  type WireRequestState,
} from '@switchboard/shared';
import { CookieSealer, deriveKey } from '../auth/cookie-sealer.ts';
import { SessionStore, type Session } from '../store/session-store.ts';
import type { UserStore } from '../store/user-store.ts';

/** Switchboard's own cookies; handlers never see them and cannot set them. */
export const SESSION_COOKIE = 'sb_session';
export const LOCAL_COOKIE = 'sb_local';
export const SHARED_COOKIE = 'sb_shared';
const OWN_COOKIES = new Set([SESSION_COOKIE, LOCAL_COOKIE, SHARED_COOKIE]);
/** Largest sealed cookie value written: browsers keep about 4 KB per cookie. */
const MAX_SEALED_BYTES = 4000;

/** Switchboard's state of one request as the door read it from the cookies. */
export interface IncomingState {
  /** The session named by a valid, signed session cookie that is still stored. */
  session: Session | undefined;
  local: CookieJarContent;
  shared: CookieJarContent;
}

export const EMPTY_STATE: IncomingState = Object.freeze({
  session: undefined,
  local: Object.freeze({}),
  shared: Object.freeze({}),
});

/**
 * Reads and writes what Switchboard keeps for a browser: the server-side session (cookie
 * `sb_session`, its id signed with `@fastify/cookie`'s signer) and the `local`/`shared` cookie
 * jars (sealed with AES-GCM). Unsigned, tampered or undecryptable cookies read as absent.
 */
export class RequestState {
  private signer!: ReturnType<typeof fastifyCookie.signerFactory>;
  private sealer!: CookieSealer;

  constructor(
    private readonly stores: { sessions: SessionStore; users: UserStore },
    secret: Buffer,
    private readonly sharedCookieDomain: string | undefined,
  ) {
    this.rekey(secret);
  }

  /**
   * Seals, opens and signs with the keys derived from `secret` from now on (a clustered server
   * adopting the cluster's secret): cookies made under the old one read as absent.
   */
  rekey(secret: Buffer): void {
    this.sealer = new CookieSealer(secret);
    this.signer = fastifyCookie.signerFactory(deriveKey(secret, 'session signing'), 'sha256');
  }

  /** Whether a Cookie header holds any of Switchboard's cookies (cheap pre-check). */
  static mentionsOwnCookies(header: string | undefined): boolean {
    return header !== undefined && header.includes('sb_');
  }

  /** The Cookie header without Switchboard's cookies (undefined when nothing is left). */
  static stripOwnCookies(header: string): string | undefined {
    const kept = header
      .split(';')
      .map((part) => part.trim())
      .filter((part) => part !== '' && !OWN_COOKIES.has(part.slice(0, part.indexOf('=')).trim()));
    return kept.length === 0 ? undefined : kept.join('; ');
  }

  read(header: string | undefined): IncomingState {
    if (!RequestState.mentionsOwnCookies(header)) return EMPTY_STATE;
    const cookies = fastifyCookie.parse(header!);
    const signed = cookies[SESSION_COOKIE];
    const unsigned = signed === undefined ? undefined : this.signer.unsign(signed);
    const session =
      unsigned?.valid === true && unsigned.value !== null
        ? this.stores.sessions.load(unsigned.value)
        : undefined;
    return {
      session,
      local: this.openJar(LOCAL_COOKIE, cookies[LOCAL_COOKIE]),
      shared: this.openJar(SHARED_COOKIE, cookies[SHARED_COOKIE]),
    };
  }

  /** What the handler sees of the state. */
  toWire(state: IncomingState): WireRequestState | undefined {
    if (state === EMPTY_STATE) return undefined;
    return {
      session: state.session?.data ?? {},
      cookies: { local: state.local, shared: state.shared },
    };
  }

  /** The session's signed-in user, if it has one who is still enabled. */
  sessionUser(state: IncomingState): User | undefined {
    const id = state.session?.userId;
    if (id === null || id === undefined) return undefined;
    const user = this.stores.users.find(id);
    return user?.enabled === true ? user : undefined;
  }

  /**
   * Saves the handler's changes (`raw`, possibly none) and returns the Set-Cookie values to send,
   * refreshing a session that is past half its lifetime. Throws
   * SB_ERR_HTTP_BAD_RESPONSE for effects that are not well formed, SB_ERR_COOKIE_TOO_LARGE for
   * a jar that does not fit a cookie.
   */
  apply(state: IncomingState, raw: unknown, secure: boolean): string[] {
    const effects = raw === undefined ? {} : checkEffects(raw);
    const setCookies: string[] = [];
    const attributes = { path: '/', httpOnly: true, sameSite: 'lax' as const, secure };
    const { session: changes, sessionUser } = effects;
    if (changes !== undefined || sessionUser !== undefined) {
      if (
        sessionUser !== undefined &&
        sessionUser !== null &&
        this.stores.users.find(sessionUser) === undefined
      ) {
        throw new SwitchboardError('SB_ERR_NO_SUCH_USER', `login(): no user has id ${sessionUser}`);
      }
      // Signing in or out gives the session a new id (no session fixation: an id planted or
      // seen before the sign-in does not carry the signed-in user).
      const previous = state.session?.id;
      const id =
        previous === undefined || sessionUser !== undefined ? SessionStore.newId() : previous;
      this.stores.sessions.apply(
        id,
        {
          ...(changes === undefined ? {} : { set: changes.set, delete: changes.delete }),
          ...(sessionUser === undefined ? {} : { userId: sessionUser }),
        },
        previous,
      );
      setCookies.push(
        fastifyCookie.serialize(SESSION_COOKIE, this.signer.sign(id), {
          ...attributes,
          maxAge: Math.floor(this.stores.sessions.ttlMs / 1000),
        }),
      );
    } else if (
      state.session !== undefined &&
      state.session.expiresAt - Date.now() < this.stores.sessions.ttlMs / 2
    ) {
      // Sliding expiry, written at most about once per half lifetime.
      this.stores.sessions.refresh(state.session.id);
      setCookies.push(
        fastifyCookie.serialize(SESSION_COOKIE, this.signer.sign(state.session.id), {
          ...attributes,
          maxAge: Math.floor(this.stores.sessions.ttlMs / 1000),
        }),
      );
    }
    const jars = effects.cookies;
    if (jars?.local !== undefined)
      setCookies.push(this.sealJar(LOCAL_COOKIE, jars.local, attributes));
    if (jars?.shared !== undefined) {
      const domain = this.sharedCookieDomain;
      setCookies.push(
        this.sealJar(
          SHARED_COOKIE,
          jars.shared,
          domain === undefined ? attributes : { ...attributes, domain },
        ),
      );
    }
    return setCookies;
  }

  private openJar(name: string, sealed: string | undefined): CookieJarContent {
    if (sealed === undefined) return {};
    const json = this.sealer.open(name, sealed);
    if (json === undefined) return {};
    try {
      const content = cookieJar(JSON.parse(json));
      const now = Date.now();
      for (const [key, entry] of Object.entries(content))
        if (entry.expiresAt <= now) delete content[key];
      return content;
    } catch {
      return {};
    }
  }

  private sealJar(name: string, content: CookieJarContent, attributes: SerializeOptions): string {
    const now = Date.now();
    const live = Object.entries(content).filter(([, entry]) => entry.expiresAt > now);
    if (live.length === 0) return fastifyCookie.serialize(name, '', { ...attributes, maxAge: 0 });
    const json = JSON.stringify(Object.fromEntries(live));
    if (Buffer.byteLength(json) > MAX_COOKIE_JAR_JSON_BYTES) {
      throw new SwitchboardError('SB_ERR_COOKIE_TOO_LARGE');
    }
    const sealed = this.sealer.seal(name, json);
    if (sealed.length > MAX_SEALED_BYTES) throw new SwitchboardError('SB_ERR_COOKIE_TOO_LARGE');
    const lastExpiry = Math.max(...live.map(([, entry]) => entry.expiresAt));
    return fastifyCookie.serialize(name, sealed, {
      ...attributes,
      maxAge: Math.max(1, Math.floor((lastExpiry - now) / 1000)),
    });
  }
}

/** Whether a Set-Cookie value (or list) names one of Switchboard's own cookies. */
export function setsOwnCookie(value: string | string[] | undefined): boolean {
  if (value === undefined) return false;
  const values = Array.isArray(value) ? value : [value];
  return values.some((item) => OWN_COOKIES.has(item.slice(0, item.indexOf('=')).trim()));
}

function checkEffects(raw: unknown): WireEffects {
  const effects = raw as WireEffects | null;
  try {
    if (typeof effects !== 'object' || effects === null) throw new Error('effects must be a map');
    const { session, sessionUser, cookies } = effects;
    if (session !== undefined) {
      if (typeof session.set !== 'object' || session.set === null || !Array.isArray(session.delete))
        throw new Error('session effects must be { set, delete }');
    }
    if (sessionUser !== undefined && sessionUser !== null && !Number.isSafeInteger(sessionUser))
      throw new Error('sessionUser must be a user id or null');
    if (cookies !== undefined) {
      if (cookies.local !== undefined) cookieJar(cookies.local);
      if (cookies.shared !== undefined) cookieJar(cookies.shared);
    }
    return effects;
  } catch (error) {
    throw new SwitchboardError(
      'SB_ERR_HTTP_BAD_RESPONSE',
      `The provider sent malformed effects: ${error instanceof Error ? error.message : String(error)}`,
    );
  }
}
