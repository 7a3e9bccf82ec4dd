import { STATUS_CODES, type Server } from 'node:http';
import type { Socket } from 'node:net';
import { SwitchboardError, type ErrorCode } from '@switchboard/shared';
import type { FastifyHttpOptions, FastifyInstance, FastifyRequest } from 'fastify';
import type { ResolvedOptions } from '../options.ts';
import { requestIdFor } from '../observe/request-id.ts';
import { fastifyTrustProxy } from './client-address.ts';
import { fromFastifyError, sendError } from './error-reply.ts';

/** How often Node looks for requests past `headersTimeoutMs` (its default is 30 s). */
const MAX_CHECK_INTERVAL_MS = 5_000;

/**
 * Fastify's construction options for a standalone server: the door's request ids, proxy trust,
 * timeouts, log redaction and the `{code, message}` answers to errors Fastify or Node answer
 * before any route runs.
 */
export function doorServerOptions(options: ResolvedOptions): FastifyHttpOptions<Server> {
  const { headersTimeoutMs } = options;
  return {
    logger: redactingLogger(options.logger),
    bodyLimit: options.maxBodyBytes,
    genReqId: requestIdFor,
    trustProxy: fastifyTrustProxy(options.trustProxy),
    keepAliveTimeout: options.keepAliveTimeoutMs,
    // No deadline for a whole request: bodies have their own (BodyTimeouts), so a streamed
    // upload that keeps sending may take as long as it needs.
    requestTimeout: 0,
    http: {
      headersTimeout: headersTimeoutMs,
      connectionsCheckingInterval: Math.max(
        10,
        Math.min(MAX_CHECK_INTERVAL_MS, Math.floor(headersTimeoutMs / 4)),
      ),
    },
    frameworkErrors: (error, _request, reply) => {
      void sendError(reply, fromFastifyError(error), false);
    },
    clientErrorHandler,
  };
}

/**
 * The root's answers to what no Switchboard route answers: unknown routes (and unknown methods)
 * are 404, any error of a route without its own handler is `{code, message}`.
 */
export function doorRootHandlers(app: FastifyInstance, options: ResolvedOptions): void {
  app.setNotFoundHandler((request, reply) =>
    sendError(
      reply,
      new SwitchboardError(
        'SB_ERR_HTTP_NOT_FOUND',
        `No route for ${request.method} ${redactUrl(request.url)}`,
      ),
      false,
    ),
  );
  app.setErrorHandler((error, request, reply) => {
    // A body sent to no route at all (`QUERY /x` without a Content-Type, bad JSON to /nope):
    // that there is no route is the answer.
    const coded = request.is404
      ? new SwitchboardError(
          'SB_ERR_HTTP_NOT_FOUND',
          `No route for ${request.method} ${redactUrl(request.url)}`,
        )
      : fromFastifyError(error);
    return sendError(reply, coded, options.debug);
  });
}

/**
 * Node's own refusals (a malformed request, a head too large or too slow) before Fastify sees a
 * request: the same `{code, message}` body, then the connection is closed (Node's default).
 */
function clientErrorHandler(error: Error & { code?: string }, socket: Socket): void {
  if (error.code === 'ECONNRESET' || socket.destroyed) return;
  const code: ErrorCode =
    error.code === 'ERR_HTTP_REQUEST_TIMEOUT'
      ? 'SB_ERR_HTTP_REQUEST_TIMEOUT'
      : error.code === 'HPE_HEADER_OVERFLOW'
        ? 'SB_ERR_HTTP_HEADERS_TOO_LARGE'
        : 'SB_ERR_HTTP_BAD_REQUEST';
  const coded = new SwitchboardError(code);
  // Not in the middle of an answer already on its way (Node checks the same).
  const answering = (socket as Socket & { _httpMessage?: { headersSent?: boolean } })._httpMessage;
  if (socket.writable && answering?.headersSent !== true) {
    const body = JSON.stringify({ code: coded.code, message: coded.message });
    socket.write(
      `HTTP/1.1 ${coded.status} ${STATUS_CODES[coded.status]}\r\n` +
        'Content-Type: application/json; charset=utf-8\r\n' +
        `Content-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`,
    );
  }
  socket.destroySoon();
}

/** `/_/private_api/<key>`, also spelled with extra slashes or `%5F` (what a log would show). */
const PRIVATE_KEY_IN_URL = /^(\/+_\/+private(?:_|%5f)api\/+)[^/?#]*/i;

/** A URL fit for a log: the access key of a private API path replaced by `[redacted]`. */
export function redactUrl(url: string): string {
  if (!/private/i.test(url)) return url;
  return url.replace(PRIVATE_KEY_IN_URL, '$1[redacted]');
}

type LogRequest = FastifyRequest | { url?: string; method?: string };

/** Fastify's request log fields (its default serializer's), with the URL redacted. */
function serializeRequest(request: LogRequest): Record<string, unknown> {
  const fastify = request as Partial<FastifyRequest>;
  return {
    method: request.method,
    url: redactUrl(request.url ?? ''),
    host: fastify.host,
    remoteAddress: fastify.ip,
    remotePort: fastify.socket?.remotePort,
  };
}

/**
 * The `logger` option with request URLs redacted (a private API key must not land in logs); a
 * serializer of the caller's own for `req` still runs, its `url` redacted afterwards.
 */
export function redactingLogger(
  logger: ResolvedOptions['logger'],
): boolean | Record<string, unknown> {
  if (logger === false) return false;
  const given = logger === true ? {} : logger;
  const serializers = (given.serializers ?? {}) as Record<string, (value: unknown) => unknown>;
  const own = serializers.req;
  const req =
    own === undefined
      ? serializeRequest
      : (request: LogRequest): unknown => {
          const fields = own(request) as Record<string, unknown> | undefined;
          if (fields !== undefined && typeof fields.url === 'string')
            return { ...fields, url: redactUrl(fields.url) };
          return fields;
        };
  return { ...given, serializers: { ...serializers, req } };
}
