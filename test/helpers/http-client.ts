import assert from 'node:assert/strict';
import http from 'node:http';

export type Json = Record<string, unknown>;

/** An `Authorization: Basic` header value. */
export function basic(username: string, password: string): string {
  return `Basic ${Buffer.from(`${username}:${password}`, 'utf8').toString('base64')}`;
}

/** The `{ code, message }` body of an error answer (asserting its shape). */
export async function errorOf(response: Response): Promise<{ code: string; message: string }> {
  assert.match(response.headers.get('content-type') ?? '', /^application\/json/);
  const body = (await response.json()) as { code: string; message: string };
  assert.equal(typeof body.code, 'string');
  assert.equal(typeof body.message, 'string');
  return body;
}

/** Asserts a coded error answer and returns its body. */
export async function expectError(
  response: Response,
  status: number,
  code: string,
): Promise<{ code: string; message: string }> {
  const body = await errorOf(response);
  assert.equal(response.status, status, `${code}: ${body.code} ${body.message}`);
  assert.equal(body.code, code, body.message);
  return body;
}

/** One Set-Cookie header parsed: name, value and attributes (lower-case names). */
export interface SetCookie {
  name: string;
  value: string;
  attributes: Map<string, string | true>;
  raw: string;
}

export function parseSetCookie(raw: string): SetCookie {
  const [pair, ...rest] = raw.split(';');
  const equals = pair!.indexOf('=');
  const attributes = new Map<string, string | true>();
  for (const item of rest) {
    const at = item.indexOf('=');
    if (at === -1) attributes.set(item.trim().toLowerCase(), true);
    else attributes.set(item.slice(0, at).trim().toLowerCase(), item.slice(at + 1).trim());
  }
  return {
    name: pair!.slice(0, equals).trim(),
    value: pair!.slice(equals + 1).trim(),
    attributes,
    raw,
  };
}

/** The Set-Cookie headers of a response by cookie name. */
export function setCookies(response: Response): Map<string, SetCookie> {
  return new Map(
    response.headers.getSetCookie().map((raw) => {
      const cookie = parseSetCookie(raw);
      return [cookie.name, cookie];
    }),
  );
}

/**
 * A minimal browser cookie store over fetch: keeps what Set-Cookie says (Max-Age=0 deletes)
 * and sends it back. Headers given per request win (e.g. a hand-made Cookie header).
 */
export class Browser {
  readonly cookies = new Map<string, string>();

  constructor(private readonly base: string) {}

  async fetch(path: string, init: RequestInit = {}): Promise<Response> {
    const headers = new Headers(init.headers);
    if (!headers.has('cookie') && this.cookies.size > 0) headers.set('cookie', this.cookieHeader());
    const response = await fetch(this.base + path, { ...init, headers });
    this.store(response);
    return response;
  }

  /** Keeps a response's cookies (for responses fetched by other means). */
  store(response: Response): void {
    for (const cookie of setCookies(response).values()) {
      if (cookie.attributes.get('max-age') === '0') this.cookies.delete(cookie.name);
      else this.cookies.set(cookie.name, cookie.value);
    }
  }

  cookieHeader(overrides: Record<string, string> = {}): string {
    const all = new Map([...this.cookies, ...Object.entries(overrides)]);
    return [...all].map(([name, value]) => `${name}=${value}`).join('; ');
  }

  async json(path: string, init: RequestInit = {}): Promise<Json> {
    const response = await this.fetch(path, init);
    const text = await response.text();
    assert.equal(response.status, 200, `${path}: ${response.status} ${text}`);
    return JSON.parse(text) as Json;
  }
}

/** A response read whole as text. */
export interface TextAnswer {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: string;
}

/** One request with node:http (own agent or source address), its answer read as text. */
export function textRequest(
  url: string,
  options: http.RequestOptions & { body?: string } = {},
): Promise<TextAnswer> {
  const { body: sent, ...requestOptions } = options;
  return new Promise((resolve, reject) => {
    const request = http.request(url, requestOptions, (response) => {
      let body = '';
      response.setEncoding('utf8');
      response.on('data', (chunk: string) => (body += chunk));
      response.on('end', () =>
        resolve({ status: response.statusCode ?? 0, headers: response.headers, body }),
      );
      response.on('error', reject);
    });
    request.on('error', reject);
    request.end(sent);
  });
}

/** A GET from a chosen loopback source address (127.0.0.x), to act as another client. */
export function getFrom(
  localAddress: string,
  url: string,
  headers: Record<string, string> = {},
): Promise<TextAnswer> {
  return textRequest(url, { localAddress, headers, agent: false });
}

/**
 * Flips one bit of a character of a base64 or base64url string, keeping it in its alphabet
 * (signatures are base64 and may hold `+` and `/`; sealed values are base64url).
 */
export function flipChar(value: string, index: number): string {
  const digits = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';
  const alphabet = /[+/]/.test(value) ? `${digits}+/` : `${digits}-_`;
  const at = index < 0 ? value.length + index : index;
  const position = alphabet.indexOf(value[at]!);
  assert.ok(position !== -1, `not base64 at ${at}: ${value}`);
  return value.slice(0, at) + alphabet[position ^ 1] + value.slice(at + 1);
}
