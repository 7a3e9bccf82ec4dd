import { SwitchboardError } from '../errors/switchboard-error.ts';
import type { CookieJarContent } from '../protocol/wire-http.ts';

/** Default lifetime of a cookie value, as Anvil's: 30 days. */
export const DEFAULT_COOKIE_EXPIRY_DAYS = 30;
/**
 * Largest JSON text of one jar. Sealed (AES-GCM adds 28 bytes, base64url 4/3), named and with
 * its attributes, 3,000 bytes of JSON make a cookie of about 4 KB, the limit browsers keep.
 */
export const MAX_COOKIE_JAR_JSON_BYTES = 3000;
const DAY_MS = 86_400_000;

/**
 * `request.cookies.local` / `request.cookies.shared`: JSON values kept in an encrypted,
 * authenticated cookie. Reads see what the browser sent (expired values are gone); changes
 * travel back with the response and the door seals them into the cookie.
 */
export class CookieJar {
  private content: CookieJarContent;
  private dirty = false;

  constructor(content: CookieJarContent | undefined) {
    this.content = { ...content };
  }

  get(key: string): unknown {
    const entry = this.live(key);
    return entry === undefined ? undefined : entry.value;
  }

  has(key: string): boolean {
    return this.live(key) !== undefined;
  }

  /** The keys with a live value. */
  keys(): string[] {
    return Object.keys(this.content).filter((key) => this.live(key) !== undefined);
  }

  /**
   * Stores a JSON value for `expiryDays` (default 30). Throws SB_ERR_COOKIE_TOO_LARGE, leaving
   * the jar unchanged, when the jar would no longer fit a cookie.
   */
  set(key: string, value: unknown, expiryDays = DEFAULT_COOKIE_EXPIRY_DAYS): void {
    if (typeof key !== 'string' || key === '')
      throw new SwitchboardError(
        'SB_ERR_OPTIONS_INVALID',
        'a cookie key must be a non-empty string',
      );
    if (!(expiryDays > 0) || !Number.isFinite(expiryDays))
      throw new SwitchboardError('SB_ERR_OPTIONS_INVALID', 'expiryDays must be a positive number');
    let json: string | undefined;
    try {
      json = JSON.stringify(value);
    } catch {
      json = undefined;
    }
    if (json === undefined)
      throw new SwitchboardError('SB_ERR_OPTIONS_INVALID', `A cookie value must be JSON (${key})`);
    const next: CookieJarContent = {
      ...this.content,
      [key]: { value: JSON.parse(json) as unknown, expiresAt: Date.now() + expiryDays * DAY_MS },
    };
    const size = Buffer.byteLength(JSON.stringify(next), 'utf8');
    if (size > MAX_COOKIE_JAR_JSON_BYTES) {
      throw new SwitchboardError(
        'SB_ERR_COOKIE_TOO_LARGE',
        `Setting ${JSON.stringify(key)} would make the cookie ${size} bytes of JSON; the limit is ${MAX_COOKIE_JAR_JSON_BYTES}`,
      );
    }
    this.content = next;
    this.dirty = true;
  }

  delete(key: string): boolean {
    if (!Object.hasOwn(this.content, key)) return false;
    const { [key]: _gone, ...rest } = this.content;
    this.content = rest;
    this.dirty = true;
    return true;
  }

  clear(): void {
    if (Object.keys(this.content).length === 0) return;
    this.content = {};
    this.dirty = true;
  }

  /** The jar's new content when it changed, else undefined. */
  changes(): CookieJarContent | undefined {
    return this.dirty ? this.content : undefined;
  }

  private live(key: string) {
    if (!Object.hasOwn(this.content, key)) return undefined;
    const entry = this.content[key]!;
    return entry.expiresAt > Date.now() ? entry : undefined;
  }
}
