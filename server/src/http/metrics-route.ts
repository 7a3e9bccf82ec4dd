import { timingSafeEqual, createHash } from 'node:crypto';
import { SwitchboardError } from '@switchboard/shared';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { parseBearer } from '../auth/bearer.ts';
import type { Metrics } from '../observe/metrics.ts';
import { sendError } from './error-reply.ts';

/** Where Prometheus scrapes. */
export const METRICS_PATH = '/metrics';

/**
 * `GET /metrics`: the Prometheus text. Served to loopback clients that did not come through a
 * proxy (no `Forwarded`/`X-Forwarded-For`), and to anyone presenting `Authorization: Bearer
 * <metricsToken>` when one is configured; everyone else gets 403 SB_ERR_METRICS_FORBIDDEN.
 */
export function metricsRoutes(deps: { metrics: Metrics; token: string | undefined }) {
  const expected = deps.token === undefined ? undefined : digest(deps.token);
  function allowed(request: FastifyRequest): boolean {
    const header = request.headers.authorization;
    if (header !== undefined && expected !== undefined) {
      const token = parseBearer(header);
      return token !== undefined && timingSafeEqual(digest(token), expected);
    }
    const proxied =
      request.headers['x-forwarded-for'] !== undefined || request.headers.forwarded !== undefined;
    return !proxied && isLoopback(request.socket.remoteAddress);
  }

  return function routes(app: FastifyInstance, _opts: unknown, done: (err?: Error) => void): void {
    app.get(METRICS_PATH, async (request, reply) => {
      void reply.header('cache-control', 'no-store');
      if (!allowed(request))
        return sendError(reply, new SwitchboardError('SB_ERR_METRICS_FORBIDDEN'), false);
      const text = await deps.metrics.render();
      return reply.type(deps.metrics.contentType).send(text);
    });
    done();
  };
}

function isLoopback(address: string | undefined): boolean {
  if (address === undefined) return false;
  return address === '::1' || address.startsWith('127.') || address.startsWith('::ffff:127.');
}

function digest(value: string): Buffer {
  return createHash('sha256').update(value).digest();
}
