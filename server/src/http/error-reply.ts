import { SwitchboardError, toSwitchboardError } from '@switchboard/shared';
import type { FastifyError, FastifyReply } from 'fastify';

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
}

/** Maps Fastify's own request errors (body parsing, limits) onto Switchboard codes. */
export function fromFastifyError(error: unknown): SwitchboardError {
  if (error instanceof SwitchboardError) return error;
  if (!(error instanceof Error)) return toSwitchboardError(error);
  switch ((error as FastifyError).statusCode) {
    case 400:
      return new SwitchboardError('SB_ERR_HTTP_BAD_BODY', error.message);
    case 413:
      return new SwitchboardError('SB_ERR_HTTP_BODY_TOO_LARGE', error.message);
    case 415:
      return new SwitchboardError('SB_ERR_HTTP_UNSUPPORTED_MEDIA_TYPE', error.message);
    default:
      return toSwitchboardError(error);
  }
}

export function sendError(
  reply: FastifyReply,
  error: SwitchboardError,
  debug: boolean,
): FastifyReply {
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
