import { isTrustedCaller, type CallerInfo } from '@switchboard/shared';
import type { FastifyInstance } from 'fastify';
import type { EndpointTable } from '../catalog/endpoint-table.ts';
import type { FunctionRegistry } from '../catalog/registry.ts';
import { openApiDocument, type OpenApiInfo } from '../openapi/openapi-document.ts';
import { identifyCaller, type CallerDeps } from './admission.ts';
import { API_PREFIX } from './api-target.ts';
import { visibleFunctions } from './functions-routes.ts';

/** Where the OpenAPI document of the live endpoints is served. */
export const OPENAPI_PATH = '/_/openapi.json';

/**
 * `GET /_/openapi.json`: the OpenAPI 3.1 document of the endpoints live right now, and of the
 * functions the caller may call (as `POST /_/call/<name>`: those with `allowClients`, or every
 * one for a server key; see visibleFunctions). Built on the first request after the endpoint
 * table or the functions changed, once for clients and once for server keys, and kept as JSON
 * text until they change again. With any function listed, `/_/tasks` is described too (the
 * list for server keys only).
 */
export function openApiRoutes(
  deps: CallerDeps & {
    endpoints: EndpointTable;
    registry: FunctionRegistry;
    info: OpenApiInfo;
    publicOrigin: string | undefined;
  },
) {
  const { endpoints, registry } = deps;
  const cached = new Map<boolean, { version: string; json: string }>();
  return function routes(app: FastifyInstance, _opts: unknown, done: (err?: Error) => void): void {
    app.get(OPENAPI_PATH, async (request, reply) => {
      // The document was public before it listed functions: credentials it cannot verify (an
      // admin token, a wrong key) give the public document rather than an error.
      const caller = await identifyCaller(deps, request).catch((): CallerInfo => ({
        kind: 'http',
      }));
      const trusted = isTrustedCaller(caller);
      const version = `${endpoints.version} ${registry.version}`;
      let document = cached.get(trusted);
      if (document?.version !== version) {
        const built = openApiDocument(
          endpoints.live(),
          {
            info: deps.info,
            prefix: API_PREFIX,
            publicOrigin: deps.publicOrigin,
            tasks: { list: trusted },
          },
          visibleFunctions(registry, caller),
        );
        document = { version, json: JSON.stringify(built) };
        cached.set(trusted, document);
      }
      return reply
        .header('cache-control', 'no-cache')
        .header('vary', 'authorization')
        .type('application/json; charset=utf-8')
        .send(document.json);
    });
    done();
  };
}
