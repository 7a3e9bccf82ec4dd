import { fastifyCookie } from '@fastify/cookie';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { SwitchboardError, type CallerInfo, type LocalHttpRequest } from '@switchboard/shared';
import type { CallOrder, Dispatcher } from '../hub/dispatcher.ts';
import type { EndpointTable } from '../catalog/endpoint-table.ts';
import { requestIdOf } from '../observe/request-id.ts';
import { PLAIN_ADMISSION, admitToEndpoint, type EndpointAdmissionDeps } from './admission.ts';
import {
  API_PREFIX,
  PRIVATE_API_PREFIX,
  privateKeyDigests,
  resolveTarget,
  type Matched,
  type Target,
} from './api-target.ts';
import { applyCors, applyPreflight } from './cors.ts';
import { fromFastifyError, sendError } from './error-reply.ts';
import { BodyChunks, StreamedPayload, limitedSource, readBody } from './request-body.ts';
import { RequestState } from './request-state.ts';
import { ReplySink } from './reply-sink.ts';
import { appOriginOf } from './site.ts';

/**
 * What the door needs: the endpoint table to match requests, the dispatcher to hand them on,
 * and what admission and the reply read (options, sign-in, limits, the cookie-backed state).
 */
export interface DoorDeps extends EndpointAdmissionDeps {
  readonly endpoints: EndpointTable;
  readonly dispatcher: Dispatcher;
}

declare module 'fastify' {
  interface FastifyRequest {
    /** The target a request with a body was resolved to while its body was read. */
    switchboardRoute: Target | null;
  }
}

const HTTP_CALLER: CallerInfo = { kind: 'http' };

/**
 * The HTTP door for endpoints: `/_/api/<path>` (and `/_/private_api/<key>/<path>`) for every
 * method. Matching, method checks, CORS, rate limits, sign-in and the cross-site decision
 * happen here before any frame is sent; the raw body travels to the provider as bytes, and the
 * provider's answer (status, headers, body bytes, session and cookie changes) is written back.
 */
export function apiRoutes(deps: DoorDeps) {
  const { options, endpoints } = deps;
  const alternates = new Set(options.alternateOrigins);
  const privateKeys = privateKeyDigests(options.privateApiKeys);

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
        const target = resolveTarget(request, endpoints, privateKeys);
        request.switchboardRoute = target; // the handler needs not resolve again
        const { resolution } = target;
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
      const target = request.switchboardRoute ?? resolveTarget(request, endpoints, privateKeys);
      const { path, resolution } = target;
      switch (resolution.kind) {
        case 'not-found':
          throw new SwitchboardError(
            'SB_ERR_HTTP_NOT_FOUND',
            target.base === API_PREFIX ? `No endpoint at ${path}` : undefined,
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
      if (
        resolution.policy === undefined &&
        options.rateLimit === undefined &&
        !RequestState.mentionsOwnCookies(request.headers.cookie)
      ) {
        // The common path: nothing to check, answered synchronously by the sink. Returning
        // nothing (not `reply`, a thenable Fastify would watch with end-of-stream listeners).
        forward(deps, target, resolution, new ReplySink(deps, reply, resolution, PLAIN_ADMISSION));
        return undefined;
      }
      return admitToEndpoint(deps, request, reply, resolution).then((admission) => {
        forward(deps, target, resolution, new ReplySink(deps, reply, resolution, admission));
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

/**
 * Checks the body against the endpoint's schema, builds the request the provider gets (what
 * the door admitted, with Switchboard's own cookies stripped) and hands it to the dispatcher,
 * whose provider settles `sink` directly (no promise, no AbortController per request). A client
 * that goes away before the answer cancels the call.
 */
function forward(deps: DoorDeps, target: Target, matched: Matched, sink: ReplySink): void {
  const { request, admission } = sink;
  const { validators } = matched;
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
      query: target.query,
      params: matched.params,
    });
  }
  const appOrigin = appOriginOf(request, deps.options);
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
    path: target.path,
    params: matched.params,
    query: target.query,
    headers,
    remoteAddress: request.ip,
    appOrigin,
    apiOrigin: appOrigin + target.base,
  };
  // Only the keys that have a value: an undefined one would still be encoded and decoded.
  if (Buffer.isBuffer(body)) http.body = body;
  else if (body instanceof BodyChunks) {
    http.bodyChunks = body.chunks;
    // The chunks are the call's now: a provider that needs the body whole joins them and lets
    // them go, which it could not while the request still held them.
    request.body = undefined;
  } else if (body instanceof StreamedPayload) http.bodySource = body.source;
  if (admission.user !== undefined) http.user = admission.user;
  const state = deps.state.toWire(admission.incoming);
  if (state !== undefined) http.state = state;
  const call: CallOrder = {
    name: matched.pattern,
    args: [],
    http,
    timeoutMs: undefined, // the server's default, set by the dispatcher
    caller: admission.user === undefined ? HTTP_CALLER : { kind: 'http', user: admission.user },
    requestId: requestIdOf(request),
  };
  const handle = deps.dispatcher.dispatch(call, sink, matched.provider);
  if (!sink.settled) {
    // A response emits 'close' once (finished or cut off); `on` spares once()'s wrapper.
    sink.reply.raw.on('close', () => {
      if (!sink.settled) handle.cancel();
    });
  }
}
