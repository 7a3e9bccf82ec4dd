import { createHash } from 'node:crypto';
import type { ServerResponse } from 'node:http';
import { fastifyCookie } from '@fastify/cookie';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import {
  SwitchboardError,
  toSwitchboardError,
  type CallerInfo,
  type EndpointPolicy,
  type LocalHttpRequest,
  type ResponseStream,
  type User,
  type WireHttpResponse,
} from '@switchboard/shared';
import { parseBasicCredentials } from '../auth/basic-credentials.ts';
import type { SignIn } from '../auth/sign-in.ts';
import type { Dispatcher } from '../hub/dispatcher.ts';
import type { CallRequest, CallSink } from '../hub/provider.ts';
import type { EndpointTable, Resolution } from '../catalog/endpoint-table.ts';
import type { ResolvedOptions } from '../options.ts';
import type { CallStats } from '../observe/call-stats.ts';
import { applyCors, applyPreflight } from './cors.ts';
import { fromFastifyError, sendError } from './error-reply.ts';
import { BodyChunks, StreamedPayload, limitedSource, readBody } from './request-body.ts';
import type { RateLimits } from '../limits/rate-limits.ts';
import type { EndpointValidators } from '../schema/endpoint-validators.ts';
import { EMPTY_STATE, RequestState, setsOwnCookie, type IncomingState } from './request-state.ts';
import { answerHeaders } from './response-headers.ts';
import { redactUrl } from './door-server.ts';
import { appOriginOf, isCrossSiteRequest, isSecure } from './site.ts';
import { REQUEST_ID_HEADER, requestIdOf } from '../observe/request-id.ts';

/** Where uplink endpoints are served. */
export const API_PREFIX = '/_/api';
/** Where endpoints are also served behind an access key: `/_/private_api/<key>/...`. */
export const PRIVATE_API_PREFIX = '/_/private_api/';
const BASIC_CHALLENGE = 'Basic realm="switchboard", charset="UTF-8"';

/** What the door needs besides the routing: sign-in, limits and the cookie-backed state. */
export interface DoorDeps {
  options: ResolvedOptions;
  endpoints: EndpointTable;
  dispatcher: Dispatcher;
  state: RequestState;
  signIn: SignIn;
  limits: RateLimits;
  stats: CallStats;
}

declare module 'fastify' {
  interface FastifyRequest {
    /** The endpoint a request with a body was matched to while its body was read. */
    switchboardRoute: { where: Target; resolution: Resolution } | null;
  }
}

/** Where a request points: the endpoint path and the API origin it was reached through. */
interface Target {
  path: string;
  query: string;
  /** `/_/api` or `/_/private_api/<key>`. */
  base: string;
}

/** Per request: what the door read and decided before dispatching. */
interface Admission {
  user: User | undefined;
  incoming: IncomingState;
  /** Whether the handler's session and cookie changes are kept (same-site or opted in). */
  keepsState: boolean | undefined;
}

const PLAIN: Admission = { user: undefined, incoming: EMPTY_STATE, keepsState: undefined };

/**
 * The HTTP door for endpoints: `/_/api/<path>` (and `/_/private_api/<key>/<path>`) for every
 * method. Matching, method checks, CORS, rate limits, sign-in and the cross-site decision
 * happen here before any frame is sent; the raw body travels to the provider as bytes, and the
 * provider's answer (status, headers, body bytes, session and cookie changes) is written back.
 */
export function apiRoutes(deps: DoorDeps) {
  const { options, endpoints, dispatcher } = deps;
  const alternates = new Set(options.alternateOrigins);
  const privateKeys = new Set(options.privateApiKeys.map(digest));

  function target(request: FastifyRequest): Target {
    const url = request.raw.url ?? '/';
    const queryAt = url.indexOf('?');
    const pathEnd = queryAt === -1 ? url.length : queryAt;
    const query = queryAt === -1 ? '' : url.slice(queryAt + 1);
    if (url.startsWith(API_PREFIX)) {
      return { path: url.slice(API_PREFIX.length, pathEnd) || '/', query, base: API_PREFIX };
    }
    // A private API path: an unknown key looks exactly like an unknown path (no oracle).
    const rest = url.slice(PRIVATE_API_PREFIX.length, pathEnd);
    const slash = rest.indexOf('/');
    const key = slash === -1 ? rest : rest.slice(0, slash);
    if (!privateKeys.has(digest(key))) throw new SwitchboardError('SB_ERR_HTTP_NOT_FOUND');
    const path = slash === -1 ? '/' : rest.slice(slash);
    return { path, query, base: PRIVATE_API_PREFIX + key };
  }

  function dispatch(
    request: FastifyRequest,
    reply: FastifyReply,
    to: { target: Target; resolution: Extract<Resolution, { kind: 'ok' }> },
    admission: Admission,
  ): void {
    const { target: where, resolution } = to;
    const { validators } = resolution;
    let body = request.body;
    if (validators !== undefined) {
      // Checking a body needs it whole; the provider then gets the joined one too (and the
      // chunks are let go).
      if (body instanceof BodyChunks) request.body = body = body.joined();
      // After the door's own checks (rate limit, sign-in), before anything reaches the provider.
      validators.checkRequest({
        method: request.method,
        contentType: request.headers['content-type'],
        body,
        query: where.query,
        params: resolution.params,
      });
    }
    const appOrigin = appOriginOf(request, options);
    let headers = request.headers as Record<string, string | string[]>;
    const cookie = request.headers.cookie;
    if (RequestState.mentionsOwnCookies(cookie)) {
      // Switchboard's own cookies never reach handlers.
      const { cookie: _own, ...others } = headers;
      const kept = RequestState.stripOwnCookies(cookie!);
      headers = kept === undefined ? others : { ...others, cookie: kept };
    }
    const http: LocalHttpRequest = {
      method: request.method,
      path: where.path,
      params: resolution.params,
      query: where.query,
      headers,
      remoteAddress: request.ip,
      appOrigin,
      apiOrigin: appOrigin + where.base,
    };
    // Only the keys that have a value: an undefined one would still be encoded and decoded.
    if (Buffer.isBuffer(body)) http.body = body;
    else if (body instanceof BodyChunks) http.bodyChunks = body.chunks;
    else if (body instanceof StreamedPayload) http.bodySource = body.source;
    if (admission.user !== undefined) http.user = admission.user;
    const state = deps.state.toWire(admission.incoming);
    if (state !== undefined) http.state = state;
    // The provider settles the reply directly (no promise, no AbortController per request).
    const sink = new ReplySink(deps, request, reply, {
      policy: resolution.policy,
      admission,
      validators,
    });
    const call: CallRequest = {
      name: resolution.pattern,
      args: [],
      http,
      timeoutMs: dispatcher.timeoutFor(undefined),
      caller: admission.user === undefined ? HTTP_CALLER : { kind: 'http', user: admission.user },
      requestId: requestIdOf(request),
    };
    let { provider } = resolution;
    if (!provider.accepting) {
      // Picked before an await (body upload, sign-in, rate limit): it may have left or started
      // draining since. Ask again rather than send it a request it would not serve.
      const again = endpoints.resolve(request.method, where.path);
      if (again.kind !== 'ok') {
        sink.reject(
          new SwitchboardError(
            'SB_ERR_HTTP_NO_PROVIDER',
            `No uplink serving ${where.path} is connected`,
          ),
        );
        return;
      }
      provider = again.provider;
    }
    if (http.bodyChunks !== undefined && provider.relaysPayloads !== true) {
      // A handler in this process needs the body whole; the chunks are let go.
      request.body = http.body = (request.body as BodyChunks).joined();
      http.bodyChunks = undefined;
    }
    const handle = provider.start(call, deps.stats.track(call, provider.providerId, sink));
    if (!sink.settled) {
      // A response emits 'close' once (finished or cut off); `on` spares once()'s wrapper.
      reply.raw.on('close', () => {
        if (!sink.settled) handle.cancel();
      });
    }
  }

  /** The door's checks that need the store or a limiter (so they may wait). */
  async function admit(
    request: FastifyRequest,
    reply: FastifyReply,
    resolution: Extract<Resolution, { kind: 'ok' }>,
  ): Promise<Admission> {
    const { policy } = resolution;
    const limit = policy?.rateLimit ?? options.rateLimit;
    if (limit !== undefined) {
      const wait = await deps.limits.hit(
        request,
        `endpoint:${resolution.pattern}:${request.ip}`,
        limit,
      );
      if (wait !== undefined) {
        throw new SwitchboardError(
          'SB_ERR_RATE_LIMITED',
          `At most ${limit.max} requests per ${limit.windowMs} ms; try again in ${wait} s`,
          { data: { retryAfterSeconds: wait } },
        );
      }
    }
    let user: User | undefined;
    if (policy?.requireCredentials === true || policy?.authenticateUsers === true) {
      const credentials = parseBasicCredentials(request.headers.authorization);
      if (credentials === undefined) {
        void reply.header('www-authenticate', BASIC_CHALLENGE);
        throw new SwitchboardError('SB_ERR_AUTH_REQUIRED', 'This endpoint needs Basic credentials');
      }
      if (policy.authenticateUsers === true) {
        try {
          user = await deps.signIn.verify(request, credentials);
        } catch (error) {
          if (error instanceof SwitchboardError && error.code === 'SB_ERR_AUTH_FAILED')
            void reply.header('www-authenticate', BASIC_CHALLENGE);
          throw error;
        }
      }
    }
    const keepsState = mayKeepState(request, policy, options);
    const incoming = keepsState ? deps.state.read(request.headers.cookie) : EMPTY_STATE;
    user ??= deps.state.sessionUser(incoming);
    return { user, incoming, keepsState };
  }

  return function routes(app: FastifyInstance, _opts: unknown, done: (err?: Error) => void): void {
    // @fastify/cookie's parse() and serialize() (RequestState) only work once its plugin has
    // loaded the `cookie` module. Registered without its parsing hook; a host app that already
    // registered it has loaded the module (and owns the decorators).
    if (!app.hasDecorator('serializeCookie')) void app.register(fastifyCookie, { hook: false });
    // Every body is forwarded untouched; parsing happens where the handler runs.
    app.removeAllContentTypeParsers();
    // Bodies are read here, not by Fastify's parser: an endpoint with its own maxBodyBytes gets
    // its body streamed to the provider as it arrives instead of buffered.
    app.decorateRequest('switchboardRoute', null);
    app.decorateRequest('switchboardEndpoint', null);
    const parseBody = (
      request: FastifyRequest,
      _payload: unknown,
      next: (error: Error | null, body?: unknown) => void,
    ): void => {
      let limit: number | undefined;
      try {
        const where = target(request);
        const resolution = endpoints.resolve(request.method, where.path);
        request.switchboardRoute = { where, resolution }; // the handler needs not resolve again
        if (resolution.kind === 'ok') {
          request.switchboardEndpoint = resolution.pattern; // also when the body is refused
          limit = resolution.policy?.maxBodyBytes;
        }
      } catch (error) {
        next(error as Error);
        return;
      }
      if (limit === undefined) {
        readBody(request.raw, options.maxBodyBytes, next);
        return;
      }
      if (Number(request.headers['content-length']) > limit) {
        next(
          new SwitchboardError(
            'SB_ERR_HTTP_BODY_TOO_LARGE',
            `The request body is larger than this endpoint's limit of ${limit} bytes`,
          ),
        );
        return;
      }
      request.switchboardUntimedBody = true; // a large upload: only the idle limit applies
      next(null, new StreamedPayload(limitedSource(request.raw, limit)));
    };
    // '*' serves requests without a Content-Type. Fastify does not cache what it finds for '*',
    // so every request would parse its Content-Type header again (≈ 1 µs); a parser registered
    // under a pattern matching every type is cached per header value.
    app.addContentTypeParser('*', parseBody);
    app.addContentTypeParser(/^/, parseBody);
    app.setErrorHandler((error, _request, reply) =>
      sendError(reply, fromFastifyError(error), options.debug),
    );

    const handler = (
      request: FastifyRequest,
      reply: FastifyReply,
    ): FastifyReply | Promise<FastifyReply> | undefined => {
      const cached = request.switchboardRoute;
      const where = cached?.where ?? target(request);
      const { path } = where;
      const resolution = cached?.resolution ?? endpoints.resolve(request.method, path);
      switch (resolution.kind) {
        case 'not-found':
          throw new SwitchboardError(
            'SB_ERR_HTTP_NOT_FOUND',
            where.base === API_PREFIX ? `No endpoint at ${path}` : undefined,
          );
        case 'no-provider':
          // Retry-After comes with every retryable 503 (sendError).
          throw new SwitchboardError(
            'SB_ERR_HTTP_NO_PROVIDER',
            `No uplink serving ${path} is connected`,
          );
        case 'method-not-allowed':
          void reply.header('allow', resolution.allow.join(', '));
          throw new SwitchboardError(
            'SB_ERR_HTTP_METHOD_NOT_ALLOWED',
            `${request.method} is not allowed here; allowed: ${resolution.allow.join(', ')}`,
          );
        case 'options': {
          const res = reply.raw;
          if (applyCors(res, request.headers, resolution.policy, alternates))
            applyPreflight(res, request.headers, resolution.allow);
          return reply.code(204).header('allow', resolution.allow.join(', ')).send();
        }
        case 'ok':
          break;
        default: {
          const unreachable: never = resolution;
          throw new Error(`unhandled resolution ${String(unreachable)}`);
        }
      }
      // Metrics count this response under the endpoint's pattern, whatever answers it.
      request.switchboardEndpoint = resolution.pattern;
      if (request.headers.origin !== undefined)
        applyCors(reply.raw, request.headers, resolution.policy, alternates);
      const { policy } = resolution;
      const to = { target: where, resolution };
      if (
        policy === undefined &&
        options.rateLimit === undefined &&
        !RequestState.mentionsOwnCookies(request.headers.cookie)
      ) {
        // The common path: nothing to check, answered synchronously by the sink. Returning
        // nothing (not `reply`, a thenable Fastify would watch with end-of-stream listeners).
        dispatch(request, reply, to, PLAIN);
        return undefined;
      }
      return admit(request, reply, resolution).then((admission) => {
        dispatch(request, reply, to, admission);
        return reply;
      });
    };
    const route = {
      method: ['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS'],
      bodyLimit: options.maxBodyBytes,
      exposeHeadRoute: false,
      handler,
    };
    app.route({ ...route, url: `${API_PREFIX}/*` });
    if (privateKeys.size > 0) app.route({ ...route, url: `${PRIVATE_API_PREFIX}*` });
    done();
  };
}

const HTTP_CALLER: CallerInfo = { kind: 'http' };

/** Same-site requests, and any request to an endpoint with `crossSiteSession`, keep state. */
function mayKeepState(
  request: FastifyRequest,
  policy: EndpointPolicy | undefined,
  options: ResolvedOptions,
): boolean {
  return policy?.crossSiteSession === true || !isCrossSiteRequest(request, options);
}
const NO_COOKIES: readonly string[] = [];

function digest(key: string): string {
  return createHash('sha256').update(key).digest('hex');
}

/** Writes a provider's outcome to the HTTP reply, once. */
class ReplySink implements CallSink {
  settled = false;

  constructor(
    private readonly deps: DoorDeps,
    private readonly request: FastifyRequest,
    private readonly reply: FastifyReply,
    private readonly context: {
      policy: EndpointPolicy | undefined;
      admission: Admission;
      validators: EndpointValidators | undefined;
    },
  ) {}

  resolve(value: unknown): void {
    if (this.settled) return;
    this.settled = true;
    let response: DoorResponse | undefined;
    try {
      response = checkResponse(value);
      // A response schema checks buffered answers only: a streamed body is sent as it is made.
      if (this.context.validators !== undefined && response.stream === undefined)
        this.context.validators.checkResponse(response);
      // Header names from a provider are not necessarily lower-case (another uplink library).
      for (const name in response.headers) {
        if (
          name.length === 10 &&
          name.toLowerCase() === 'set-cookie' &&
          setsOwnCookie(response.headers[name])
        ) {
          throw new SwitchboardError(
            'SB_ERR_HTTP_BAD_RESPONSE',
            'A handler may not set the cookies sb_session, sb_local or sb_shared; use request.session and request.cookies',
          );
        }
      }
      const { incoming } = this.context.admission;
      const setCookies =
        response.effects === undefined && incoming.session === undefined
          ? NO_COOKIES
          : this.effects(response.effects);
      if (this.reply.raw.destroyed) {
        response.stream?.abort(); // the client went away while the head was on its way
        return;
      }
      sendResponse(this.request, this.reply, response, setCookies);
    } catch (error) {
      (value as { stream?: Partial<ResponseStream> } | null)?.stream?.abort?.();
      const coded = toSwitchboardError(error);
      // The client sees only a 502; the operator learns which handler broke its schema.
      if (coded.code === 'SB_ERR_RESPONSE_INVALID')
        this.request.log.warn({ endpoint: redactUrl(this.request.url) }, coded.message);
      sendError(this.reply, coded, this.deps.options.debug);
    }
  }

  reject(error: SwitchboardError): void {
    if (this.settled) return;
    this.settled = true;
    if (this.reply.raw.destroyed) return; // the client went away; nobody to answer
    sendError(this.reply, error, this.deps.options.debug);
  }

  /** Saves the handler's session and cookie changes unless the request may not keep state. */
  private effects(effects: unknown): readonly string[] {
    const { admission, policy } = this.context;
    const { request } = this;
    const { options, state } = this.deps;
    if (!(admission.keepsState ?? mayKeepState(request, policy, options))) return NO_COOKIES;
    return state.apply(admission.incoming, effects, isSecure(request, options));
  }
}

/**
 * Writes the provider's answer straight to the socket (Fastify's reply pipeline adds nothing
 * here: the answer is already bytes), after checking it is one: a provider is not trusted blindly.
 */
function sendResponse(
  request: FastifyRequest,
  reply: FastifyReply,
  response: DoorResponse,
  setCookies: readonly string[],
): void {
  const { body, stream } = response;
  const res = reply.raw;
  // One writeHead with a plain object (Node's fast path, as Fastify's own replies use) instead
  // of a setHeader per header. Framing is the door's alone (answerHeaders drops a handler's);
  // checked before anything touches `res`, so a bad header leaves the error reply intact.
  const headOnly = request.method === 'HEAD' && body === undefined && stream === undefined;
  const checked = answerHeaders(response.headers, {
    headOnly,
    doorVary: () => res.getHeader('vary'),
  });
  const { headers } = checked;
  if (checked.dropped !== undefined)
    request.log.debug({ dropped: checked.dropped }, 'server-only headers of a handler dropped');
  const cookies = checked.cookies === undefined ? setCookies : [...checked.cookies, ...setCookies];
  if (cookies.length > 0) headers['set-cookie'] = [...cookies];
  const requestId = requestIdOf(request);
  if (requestId !== undefined) headers[REQUEST_ID_HEADER] = requestId;
  const bodiless = response.status === 204 || response.status === 304;
  if (body !== undefined && !bodiless) headers['content-length'] = body.byteLength;
  try {
    res.writeHead(response.status, headers);
  } catch (error) {
    // Nothing was sent; Node keeps the status text it chose (`500 OK` otherwise).
    res.statusMessage = '';
    throw new SwitchboardError(
      'SB_ERR_HTTP_BAD_RESPONSE',
      `The handler's answer cannot be written: ${error instanceof Error ? error.message : String(error)}`,
    );
  }
  reply.hijack();
  if (stream !== undefined) {
    sendStream(request, res, stream);
    return;
  }
  if (body === undefined || bodiless || request.method === 'HEAD') res.end();
  else res.end(body);
}

/**
 * A streamed body, written with chunked transfer encoding as it arrives; credit goes back to the
 * producer only for bytes the socket took, so a slow client slows the producer. A client that
 * goes away aborts the stream (the handler's signal fires); a producer that fails or vanishes
 * mid-way cuts the connection, so the client never mistakes a partial body for a whole one.
 */
function sendStream(request: FastifyRequest, res: ServerResponse, stream: ResponseStream): void {
  const noBody = request.method === 'HEAD' || res.statusCode === 204 || res.statusCode === 304;
  if (noBody) {
    stream.abort();
    res.end();
    return;
  }
  let finished = false;
  res.once('close', () => {
    if (!finished) stream.abort();
  });
  res.flushHeaders();
  stream.attach({
    write: (data, flushed) => {
      res.write(data, () => flushed());
    },
    end: () => {
      finished = true;
      res.end();
    },
    fail: (error) => {
      finished = true;
      request.log.warn({ err: error }, 'streamed response broke off');
      res.destroy();
    },
  });
}

function checkResponse(value: unknown): DoorResponse {
  const response = value as Partial<DoorResponse> | null;
  if (
    response === null ||
    typeof response !== 'object' ||
    !Number.isInteger(response.status) ||
    (response.status ?? 0) < 200 ||
    (response.status ?? 0) > 999 ||
    typeof response.headers !== 'object' ||
    response.headers === null ||
    (response.body !== undefined && !(response.body instanceof Uint8Array)) ||
    (response.stream !== undefined &&
      (typeof response.stream !== 'object' || typeof response.stream.attach !== 'function'))
  ) {
    throw new SwitchboardError(
      'SB_ERR_HTTP_BAD_RESPONSE',
      'The provider answered with something that is not an HTTP response',
    );
  }
  return response as DoorResponse;
}

/** An answer as the door gets it: a streamed body arrives as the stream itself. */
type DoorResponse = Omit<WireHttpResponse, 'stream'> & { stream?: ResponseStream };
