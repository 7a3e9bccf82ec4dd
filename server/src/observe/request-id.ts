import { randomUUID } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import { isRequestId } from '@switchboard/shared';
import type { FastifyRequest } from 'fastify';

/** Header a request id is taken from and echoed in. */
export const REQUEST_ID_HEADER = 'x-request-id';

/**
 * Fastify's `genReqId` for `createSwitchboard()`: the client's `X-Request-Id` when it is a sane
 * id (see `isRequestId`: a proxy or a client tracing its own requests), else a fresh UUID.
 */
export function requestIdFor(req: IncomingMessage): string {
  const header = req.headers[REQUEST_ID_HEADER];
  return typeof header === 'string' && isRequestId(header) ? header : randomUUID();
}

/**
 * The id calls carry for `request`: Fastify's request id, unless it is not an acceptable one
 * (a host app mounting the plugin chooses its own ids).
 */
export function requestIdOf(request: FastifyRequest): string | undefined {
  const { id } = request;
  return isRequestId(id) ? id : undefined;
}
