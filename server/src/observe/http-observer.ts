import type { FastifyInstance } from 'fastify';
import { UNMATCHED_ROUTE, type HttpTally } from './http-tally.ts';
import { REQUEST_ID_HEADER, requestIdOf } from './request-id.ts';

declare module 'fastify' {
  interface FastifyRequest {
    /** The endpoint pattern a `/_/api` request was routed to (for metrics by pattern). */
    switchboardEndpoint?: string | null;
  }
}

/**
 * Hooks on `app` (and everything registered inside it): every response Fastify sends carries its
 * request id as `X-Request-Id` (the door's own answers add it in `sendResponse`); with a tally,
 * every finished response is counted by route and status.
 */
export function observeHttp(app: FastifyInstance, tally: HttpTally | undefined): void {
  // On Fastify's replies; the door writes its answers itself (one writeHead, Node's fast path,
  // which a header set beforehand would lose) and adds the id there.
  app.addHook('onSend', (request, reply, payload, done) => {
    const id = requestIdOf(request);
    if (id !== undefined) void reply.header(REQUEST_ID_HEADER, id);
    done(null, payload);
  });
  if (tally === undefined) return;
  app.addHook('onResponse', (request, reply, done) => {
    const endpoint = request.switchboardEndpoint;
    if (typeof endpoint === 'string') tally.endpoint(endpoint, reply.statusCode);
    else tally.route(request.routeOptions.url ?? UNMATCHED_ROUTE, reply.statusCode);
    done();
  });
}
