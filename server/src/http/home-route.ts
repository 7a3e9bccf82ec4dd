import type { FastifyInstance } from 'fastify';
import { UPLINK_PATH } from '@switchboard/shared';
import { DASHBOARD_PATH } from './admin/dashboard-routes.ts';
import { ADMIN_API_PREFIX } from './admin/admin-api.ts';
import { METRICS_PATH } from './metrics-route.ts';
import type { ResolvedOptions } from '../options.ts';
import { API_PREFIX } from './api-target.ts';
import { OPENAPI_PATH } from './openapi-routes.ts';

/** Where the HTTP RPC door is; each function is at `<CALL_PATH><name>`. */
const CALL_PATH = '/_/call/';

/**
 * `GET /` of a standalone server (a host app that mounts the plugin owns its `/`): a browser is
 * sent to the dashboard; anything else gets a small JSON map of the server's URLs, so a first
 * `curl` of the address says where to go instead of a bare 404.
 */
export function homeRoute(options: Pick<ResolvedOptions, 'openapi' | 'metrics'>) {
  const map = Object.freeze({
    name: 'Switchboard',
    dashboard: DASHBOARD_PATH,
    call: `${CALL_PATH}<function>`,
    api: `${API_PREFIX}/`,
    uplink: UPLINK_PATH,
    admin: `${ADMIN_API_PREFIX}/`,
    ...(options.openapi === undefined ? {} : { openapi: OPENAPI_PATH }),
    health: '/healthz',
    ready: '/readyz',
    ...(options.metrics ? { metrics: METRICS_PATH } : {}),
  });
  return function routes(app: FastifyInstance, _opts: unknown, done: (err?: Error) => void): void {
    app.get('/', (request, reply) => {
      void reply.header('cache-control', 'no-store').header('vary', 'accept');
      if (request.headers.accept?.includes('text/html') === true) {
        void reply.redirect(DASHBOARD_PATH, 302);
        return;
      }
      void reply.send(map);
    });
    done();
  };
}
