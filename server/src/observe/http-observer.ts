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
 * Hooks on `app` (and everything registered inside it): every response carries its request id
 * as `X-Request-Id`; with a tally, every finished response is counted by route and status.
 */
export function observeHttp(app: FastifyInstance, tally: HttpTally | undefined): void {
  app.addHook('onRequest', (request, reply, done) => {
    const id = requestIdOf(request);
    if (id !== undefined) reply.raw.setHeader(REQUEST_ID_HEADER, id);
    done();
  });
  if (tally === undefined) return;
  app.addHook('onResponse', (request, reply, done) => {
    const endpoint = request.switchboardEndpoint;
    if (typeof endpoint === 'string') tally.endpoint(endpoint, reply.statusCode);
    else tally.route(request.routeOptions.url ?? UNMATCHED_ROUTE, reply.statusCode);
    done();
  });
}
