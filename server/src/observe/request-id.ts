import { nanoid } from 'nanoid';
import type { IncomingMessage } from 'node:http';
import { isRequestId } from '@switchboard/shared';
import type { FastifyRequest } from 'fastify';

/** Header a request id is taken from and echoed in. */
export const REQUEST_ID_HEADER = 'x-request-id';

/**
 * Ids this process makes up: a random prefix per process start (so ids from different servers
 * and restarts do not collide) and a counter. Cheaper than a UUID per request, and shorter in
 * every frame, header and log line that carries it.
 */
const OWN_PREFIX = `sb${nanoid(8)}-`; // 48 random bits
let counter = 0;

/**
 * Fastify's `genReqId` for `createSwitchboard()`: the client's `X-Request-Id` when it is a sane
 * id (see `isRequestId`: a proxy or a client tracing its own requests), else a fresh id of ours.
 */
export function requestIdFor(req: IncomingMessage): string {
  const header = req.headers[REQUEST_ID_HEADER];
  if (typeof header === 'string' && isRequestId(header)) return header;
  counter = counter >= Number.MAX_SAFE_INTEGER ? 1 : counter + 1;
  return OWN_PREFIX + counter.toString(36);
}

/**
 * The id calls carry for `request`: Fastify's request id, unless it is not an acceptable one
 * (a host app mounting the plugin chooses its own ids). Ids of ours need no second look.
 */
export function requestIdOf(request: FastifyRequest): string | undefined {
  const { id } = request;
  if (id.startsWith(OWN_PREFIX) && id.length <= 40) return id;
  return isRequestId(id) ? id : undefined;
}
