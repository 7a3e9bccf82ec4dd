import { ERROR_CODES, SwitchboardError, toSwitchboardError } from '@switchboard/shared';
import type { FastifyError, FastifyReply } from 'fastify';
import { requestIdOf } from '../observe/request-id.ts';

/** The one JSON shape of every error the HTTP door answers with. */
export interface HttpErrorBody {
  code: string;
  message: string;
  /** Class name of a function's exception (SB_ERR_REMOTE_ERROR). */
  type?: string;
  /** Only with the `debug` server option. */
  stack?: string;
  /** SB_ERR_VALIDATION: where the request broke the endpoint's schema ({in, path, message, keyword}). */
  errors?: unknown[];
  /** With a message hidden from a public caller: the id the full error is logged under. */
  requestId?: string;
}

/**
 * Codes whose message is an exception's own text (a handler's, or the server's for an internal
 * error): public HTTP callers get the table's generic message instead, unless the server runs
 * with `exposeErrors`; the caller is a server key (`/_/call`); or the error is coded on purpose.
 */
const HIDDEN_CODES: ReadonlySet<string> = new Set(['SB_ERR_REMOTE_ERROR', 'SB_ERR_INTERNAL']);

/** The parts of the resolved options sendError reads, found on the Switchboard decorator. */
interface ErrorExposure {
  switchboard?: { options: { exposeErrors: boolean } };
}

/** Whether the caller of `reply` may see an exception's own message and class name. */
function mayExpose(reply: FastifyReply): boolean {
  if (reply.request.switchboardCaller?.keyKind === 'server') return true;
  // The decorator is on the app (standalone) or the host app (plugin), so every route sees it.
  return (reply.server as unknown as ErrorExposure).switchboard?.options.exposeErrors === true;
}

/** A route schema's refusal of the query string, the path's parameters or the headers. */
function outsideBody(error: FastifyError): boolean {
  return error.code === 'FST_ERR_VALIDATION' && error.validationContext !== 'body';
}

/** Maps Fastify's own request errors (URL, body parsing, limits) onto Switchboard codes. */
export function fromFastifyError(error: unknown): SwitchboardError {
  if (error instanceof SwitchboardError) return error;
  if (!(error instanceof Error)) return toSwitchboardError(error);
  const { statusCode, code } = error as FastifyError;
  switch (statusCode) {
    case 400:
      return code === 'FST_ERR_BAD_URL' ||
        code === 'FST_ERR_MAX_PARAM_LENGTH' ||
        outsideBody(error as FastifyError)
        ? new SwitchboardError('SB_ERR_HTTP_BAD_REQUEST', error.message)
        : new SwitchboardError('SB_ERR_HTTP_BAD_BODY', error.message);
    case 404:
      return new SwitchboardError('SB_ERR_HTTP_NOT_FOUND', error.message);
    case 405:
      return new SwitchboardError('SB_ERR_HTTP_METHOD_NOT_ALLOWED', error.message);
    case 408:
      return new SwitchboardError('SB_ERR_HTTP_REQUEST_TIMEOUT', error.message);
    case 413:
      return new SwitchboardError('SB_ERR_HTTP_BODY_TOO_LARGE', error.message);
    case 415:
      return new SwitchboardError('SB_ERR_HTTP_UNSUPPORTED_MEDIA_TYPE', error.message);
    case 431:
      return new SwitchboardError('SB_ERR_HTTP_HEADERS_TOO_LARGE', error.message);
    default:
      // Another 4xx of Fastify's is still the request's fault; anything else is internal.
      if (statusCode !== undefined && statusCode >= 400 && statusCode < 500)
        return new SwitchboardError('SB_ERR_HTTP_BAD_REQUEST', error.message);
      return toSwitchboardError(error);
  }
}

export function sendError(
  reply: FastifyReply,
  error: SwitchboardError,
  debug: boolean,
): FastifyReply {
  if (HIDDEN_CODES.has(error.code) && !mayExpose(reply)) return sendHidden(reply, error);
  const body: HttpErrorBody = { code: error.code, message: error.message };
  if (error.remoteType !== undefined) body.type = error.remoteType;
  if (error.code === 'SB_ERR_VALIDATION') {
    const errors = (error.data as { errors?: unknown } | undefined)?.errors;
    if (Array.isArray(errors)) body.errors = errors;
  }
  if (debug && (error.remoteStack ?? error.stack) !== undefined)
    body.stack = error.remoteStack ?? error.stack;
  if (error.code === 'SB_ERR_AUTH_MISSING_KEY' || error.code === 'SB_ERR_AUTH_BAD_KEY') {
    void reply.header('www-authenticate', 'Bearer realm="switchboard"');
  }
  if (error.retryable && error.status === 503) void reply.header('retry-after', '1');
  if (error.status === 429) void reply.header('retry-after', String(retryAfterOf(error)));
  return reply.code(error.status).type('application/json; charset=utf-8').send(body);
}

/** Seconds a 429 asks the client to wait (the limiter's figure, else 1). */
function retryAfterOf(error: SwitchboardError): number {
  const seconds = (error.data as { retryAfterSeconds?: unknown } | undefined)?.retryAfterSeconds;
  return typeof seconds === 'number' && seconds > 0 ? Math.ceil(seconds) : 1;
}

/**
 * An exception's text stays in the server: the caller gets the code, the table's message and the
 * request id; the log gets the class name, message and stack under that id.
 */
function sendHidden(reply: FastifyReply, error: SwitchboardError): FastifyReply {
  const { request } = reply;
  const requestId = requestIdOf(request) ?? request.id;
  const fields = {
    code: error.code,
    type: error.remoteType ?? (error.cause instanceof Error ? error.cause.name : error.name),
    reason: error.message,
    stack: error.remoteStack ?? (error.cause instanceof Error ? error.cause.stack : error.stack),
  };
  if (error.code === 'SB_ERR_INTERNAL')
    request.log.error(fields, 'internal error hidden from the caller');
  else request.log.warn(fields, 'handler error hidden from the caller');
  const body: HttpErrorBody = {
    code: error.code,
    message: ERROR_CODES[error.code].message,
    requestId,
  };
  return reply.code(error.status).type('application/json; charset=utf-8').send(body);
}
