import { SwitchboardError } from '@switchboard/shared';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { Limit, RateLimits } from '../../limits/rate-limits.ts';
import { fromFastifyError, sendError } from '../error-reply.ts';
import { ADMIN_CHALLENGE, authenticate } from './admin-auth.ts';
import type { AdminServices } from './admin-services.ts';
import { catalogRoutes } from './catalog-routes.ts';
import { clusterRoutes } from './cluster-routes.ts';
import { keyRoutes } from './key-routes.ts';
import { scheduleRoutes } from './schedule-routes.ts';
import { adminTaskRoutes } from './task-routes.ts';
import { uplinkRoutes } from './uplink-routes.ts';
import { userRoutes } from './user-routes.ts';
import { userTokenRoutes } from './user-token-routes.ts';

/** Where the admin API lives; every route below it needs `Authorization: Token <admin token>`. */
export const ADMIN_API_PREFIX = '/_/admin/api/v1';

const READ_METHODS = new Set(['GET', 'HEAD']);

/**
 * The token-authenticated admin API, as a Fastify plugin to register with
 * `{ prefix: ADMIN_API_PREFIX }`. Every request is authenticated first (before its body is
 * read), then counted against its token's limit for that route and method; a failed
 * authentication counts against the client address instead, so guessing is rate limited too.
 */
export function adminApi(core: AdminServices, limits: RateLimits) {
  const { adminRateLimits, debug } = core.options;
  return function routes(
    app: FastifyInstance,
    _opts: unknown,
    done: (error?: Error) => void,
  ): void {
    app.addHook('onRequest', async (request: FastifyRequest) => {
      const limit: Limit = READ_METHODS.has(request.method)
        ? adminRateLimits.read
        : adminRateLimits.write;
      let tokenId: string;
      try {
        tokenId = authenticate(core.adminTokens, request.headers.authorization).id;
      } catch (error) {
        await throttle(limits, request, `admin-auth ${request.ip}`, adminRateLimits.read);
        throw error;
      }
      // One budget for a route with and without its trailing slash.
      const route = (request.routeOptions.url ?? '*').replace(/\/$/, '');
      await throttle(limits, request, `admin ${request.method} ${route} ${tokenId}`, limit);
    });

    app.setErrorHandler((error, request, reply) => {
      let coded = fromFastifyError(error);
      if (coded.code === 'SB_ERR_INTERNAL') {
        request.log.error({ err: error }, 'admin API request failed');
        coded = new SwitchboardError('SB_ERR_INTERNAL'); // no internals in the answer
      }
      if (coded.status === 401) void reply.header('www-authenticate', ADMIN_CHALLENGE);
      return sendError(reply.header('cache-control', 'no-store'), coded, debug);
    });
    app.addHook('onSend', async (_request, reply) => {
      void reply.header('cache-control', 'no-store');
    });

    uplinkRoutes(app, core);
    catalogRoutes(app, core);
    clusterRoutes(app, core);
    keyRoutes(app, core);
    userRoutes(app, core);
    userTokenRoutes(app, core);
    scheduleRoutes(app, core);
    adminTaskRoutes(app, core);

    // Anything else under the prefix: authenticated (by the hook above), then 404.
    app.route({
      method: ['GET', 'POST', 'PUT', 'PATCH', 'DELETE'],
      url: '/*',
      handler: (request) => {
        throw new SwitchboardError(
          'SB_ERR_HTTP_NOT_FOUND',
          `No admin API route for ${request.method} ${request.url}`,
        );
      },
    });
    done();
  };
}

async function throttle(
  limits: RateLimits,
  request: FastifyRequest,
  key: string,
  limit: Limit,
): Promise<void> {
  const wait = await limits.hit(request, key, limit);
  if (wait === undefined) return;
  throw new SwitchboardError(
    'SB_ERR_RATE_LIMITED',
    `At most ${limit.max} requests per ${limit.windowMs} ms; try again in ${wait} s`,
    { data: { retryAfterSeconds: wait } },
  );
}
