import type { FastifyInstance } from 'fastify';
import { RECENT_ERRORS } from '../../observe/call-stats.ts';
import { adminRoute } from './admin-route.ts';
import type { AdminServices } from './admin-services.ts';
import { paginate } from './pagination.ts';
import { errorView, statsView } from './views.ts';

/**
 * What is served right now: `functions/` and `endpoints/` with their providers (uplink ids,
 * `app` for the server's own, `node:<name>` for another server of the cluster) and live call
 * statistics, and `errors/`, the most recent errors. The cluster itself is `cluster/`
 * (cluster-routes.ts).
 */
export function catalogRoutes(
  app: FastifyInstance,
  core: Pick<AdminServices, 'registry' | 'endpoints' | 'stats'>,
): void {
  adminRoute(app, 'GET', '/functions/', (request) => {
    const functions = core.registry
      .names()
      .sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    return paginate(functions, request.query, ({ name, meta }) => ({
      name,
      allow_clients: meta.allowClients,
      providers: core.registry.providersOf(name).map((provider) => provider.providerId),
      stats: statsView(core.stats.forFunction(name)),
    }));
  });

  adminRoute(app, 'GET', '/endpoints/', (request) => {
    const endpoints = core.endpoints
      .list()
      .sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
    return paginate(endpoints, request.query, ({ path, methods, providers }) => ({
      path,
      methods,
      providers: providers.map((provider) => provider.providerId),
      stats: statsView(core.stats.forEndpoint(path)),
    }));
  });

  adminRoute(app, 'GET', '/errors/', (request) =>
    paginate(core.stats.recentErrors(RECENT_ERRORS), request.query, errorView),
  );
}
