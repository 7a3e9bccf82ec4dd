import { SwitchboardError } from '../errors/switchboard-error.ts';
import type { WireEffects, WireHttpRequest } from '../protocol/wire-http.ts';
import type { User } from '../users/user.ts';
import { Media } from '../values/media.ts';
import { CookieJar } from './cookie-jar.ts';
import { SessionTracker } from './session-tracker.ts';
import { StreamedBody } from './streamed-body.ts';
import { parseMultipart, parseUrlEncoded, type FormValues } from './form-data.ts';

/**
 * A request as the door and the provider hold it: a streamed body arrives as a byte source;
 * a large buffered body may stay in the chunks it arrived in (`bodyChunks`, instead of `body`)
 * until it is written into a frame, or joined by the door where a handler needs it whole.
 */
export type LocalHttpRequest = WireHttpRequest & {
  bodySource?: AsyncIterable<Buffer>;
  bodyChunks?: readonly Buffer[];
};

/**
 * The request object an endpoint handler receives (parity with Anvil's `anvil.server.request`).
 * Built where the handler runs, from the raw request the door forwarded: the door never parses
 * bodies; forms are parsed here before the handler starts and JSON on first use of `json`.
 */
export class HttpRequest {
  readonly method: string;
  /** Path below /_/api, as received (percent-encoded). */
  readonly path: string;
  /** Path parameters, URL-decoded. */
  readonly params: Readonly<Record<string, string>>;
  /** Form fields (urlencoded or multipart; files are Media). Empty for other bodies. */
  readonly form: Readonly<FormValues>;
  /** Header names are lower-case. */
  readonly headers: Readonly<Record<string, string | string[]>>;
  readonly remoteAddress: string;
  readonly apiOrigin: string;
  readonly appOrigin: string;
  /**
   * The signed-in user: verified Basic credentials on an `authenticateUsers` endpoint, else the
   * session's user (same-site requests). Never carries the password hash.
   */
  readonly user: User | undefined;
  /** The request's id (`X-Request-Id`, or the server's own), as in the server's logs. */
  readonly requestId: string | undefined;
  // Everything below is derived on first use: most handlers read a field or two.
  private readonly rawQuery: string;
  private readonly rawBody: Uint8Array | undefined;
  private cachedQuery: Readonly<Record<string, string>> | undefined;
  private cachedBody: { value: Media | StreamedBody | undefined } | undefined;
  private cachedBasic: { value: { username: string; password: string } | undefined } | undefined;
  private parsedJson: { value: unknown } | undefined;
  private readonly wire: WireHttpRequest;
  private sessionTracker: SessionTracker | undefined;
  private jars: { local: CookieJar; shared: CookieJar } | undefined;
  private sessionUser: { id: number | null } | undefined;

  private constructor(wire: WireHttpRequest, form: FormValues, requestId: string | undefined) {
    this.method = wire.method;
    this.path = wire.path;
    this.params = wire.params;
    this.form = form;
    this.headers = wire.headers;
    this.remoteAddress = wire.remoteAddress;
    this.apiOrigin = wire.apiOrigin;
    this.appOrigin = wire.appOrigin;
    this.rawQuery = wire.query;
    this.rawBody = wire.body;
    this.user = wire.user;
    this.requestId = requestId;
    this.wire = wire;
  }

  /**
   * Builds the request, parsing a form body first: synchronously, except for a multipart body
   * (then a promise). Throws (or rejects with) SB_ERR_HTTP_BAD_BODY for a broken form.
   */
  static fromWire(wire: WireHttpRequest, requestId?: string): HttpRequest | Promise<HttpRequest> {
    let form: FormValues = NO_FORM;
    if (wire.body !== undefined && wire.body.byteLength > 0) {
      const contentType = single(wire.headers['content-type'])?.toLowerCase() ?? '';
      if (contentType.startsWith('application/x-www-form-urlencoded'))
        form = parseUrlEncoded(wire.body);
      else if (contentType.startsWith('multipart/form-data')) {
        return parseMultipart(single(wire.headers['content-type'])!, wire.body).then(
          (parsed) => new HttpRequest(wire, parsed, requestId),
        );
      }
    }
    return new HttpRequest(wire, form, requestId);
  }

  /** Query string parameters; a repeated name keeps its last value. */
  get query(): Readonly<Record<string, string>> {
    this.cachedQuery ??=
      this.rawQuery === '' ? NO_QUERY : Object.fromEntries(new URLSearchParams(this.rawQuery));
    return this.cachedQuery;
  }

  /** Path params over query over form, as Anvil's keyword arguments. */
  get args(): Readonly<Record<string, string | Media>> {
    return { ...this.form, ...this.query, ...this.params };
  }

  /**
   * The session: a plain object kept on the server between requests of one browser (cookie
   * `sb_session`). Values may be anything a function may return. Changes are saved when the
   * handler succeeds, key by key. Cross-site requests get a fresh, empty session that is not
   * saved, unless the endpoint sets `crossSiteSession`.
   */
  get session(): Record<string, unknown> {
    this.sessionTracker ??= new SessionTracker(this.wire.state?.session ?? {});
    return this.sessionTracker.values;
  }

  /** Encrypted, authenticated cookies holding JSON values: `local` (this host) and `shared`. */
  get cookies(): { readonly local: CookieJar; readonly shared: CookieJar } {
    this.jars ??= {
      local: new CookieJar(this.wire.state?.cookies.local),
      shared: new CookieJar(this.wire.state?.cookies.shared),
    };
    return this.jars;
  }

  /** Signs `user` in to this session (later same-site requests see it as `user`). */
  login(user: User | number): void {
    const id = typeof user === 'number' ? user : user?.id;
    if (!Number.isSafeInteger(id))
      throw new SwitchboardError('SB_ERR_OPTIONS_INVALID', 'login needs a user or a user id');
    this.sessionUser = { id };
  }

  /** Signs the session's user out. */
  logout(): void {
    this.sessionUser = { id: null };
  }

  /** What the handler changed in session, cookies and sign-in; undefined when nothing. */
  effects(): WireEffects | undefined {
    let effects: WireEffects | undefined;
    const session = this.sessionTracker?.changes();
    if (session !== undefined) effects = { session };
    if (this.sessionUser !== undefined) (effects ??= {}).sessionUser = this.sessionUser.id;
    const local = this.jars?.local.changes();
    const shared = this.jars?.shared.changes();
    if (local !== undefined || shared !== undefined) {
      (effects ??= {}).cookies = {
        ...(local === undefined ? {} : { local }),
        ...(shared === undefined ? {} : { shared }),
      };
    }
    return effects;
  }

  /** The `Origin` header, if the client sent one. */
  get origin(): string | undefined {
    return single(this.headers.origin);
  }

  /**
   * The body with its content type: a `Media` when buffered, a `StreamedBody` on endpoints with
   * `maxBodyBytes` (read it with `for await`, which works for both); undefined when there was none.
   */
  get body(): Media | StreamedBody | undefined {
    if (this.cachedBody === undefined) {
      const contentType = single(this.headers['content-type']) ?? 'application/octet-stream';
      const { bodySource } = this.wire as LocalHttpRequest;
      const length = Number(single(this.headers['content-length']) ?? Number.NaN);
      this.cachedBody = {
        value:
          bodySource !== undefined
            ? new StreamedBody(
                contentType,
                bodySource,
                Number.isSafeInteger(length) ? length : undefined,
              )
            : this.rawBody === undefined
              ? undefined
              : new Media(contentType, this.rawBody),
      };
    }
    return this.cachedBody.value;
  }

  /** From a Basic `Authorization` header, when present. */
  get username(): string | undefined {
    return this.basic()?.username;
  }

  get password(): string | undefined {
    return this.basic()?.password;
  }

  private basic(): { username: string; password: string } | undefined {
    this.cachedBasic ??= { value: parseBasic(single(this.headers.authorization)) };
    return this.cachedBasic.value;
  }

  /**
   * The body parsed as JSON when the content type is JSON (`application/json` or `+json`), else
   * undefined. Malformed JSON throws SB_ERR_HTTP_BAD_BODY, which the door answers with 400.
   */
  get json(): unknown {
    if (this.parsedJson !== undefined) return this.parsedJson.value;
    const type = this.body?.contentType.toLowerCase().split(';', 1)[0]?.trim() ?? '';
    let value: unknown;
    const body = this.body;
    if (body !== undefined && (type === 'application/json' || type.endsWith('+json'))) {
      if (body instanceof StreamedBody) {
        throw new SwitchboardError(
          'SB_ERR_HTTP_BAD_BODY',
          'This endpoint streams its body (maxBodyBytes): use await req.body.json()',
        );
      }
      try {
        value = JSON.parse(body.text());
      } catch (error) {
        throw new SwitchboardError(
          'SB_ERR_HTTP_BAD_BODY',
          `Malformed JSON body: ${error instanceof Error ? error.message : String(error)}`,
        );
      }
    }
    this.parsedJson = { value };
    return value;
  }
}

const NO_FORM: FormValues = Object.freeze({});
const NO_QUERY: Readonly<Record<string, string>> = Object.freeze({});

function single(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value[0] : value;
}

function parseBasic(
  header: string | undefined,
): { username: string; password: string } | undefined {
  const match = header === undefined ? null : /^Basic\s+([A-Za-z0-9+/=]+)\s*$/i.exec(header);
  if (match === null) return undefined;
  const decoded = Buffer.from(match[1]!, 'base64').toString('utf8');
  const colon = decoded.indexOf(':');
  if (colon === -1) return undefined;
  return { username: decoded.slice(0, colon), password: decoded.slice(colon + 1) };
}
