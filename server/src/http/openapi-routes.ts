import type { FastifyInstance } from 'fastify';
import type { EndpointTable } from '../catalog/endpoint-table.ts';
import { openApiDocument, type OpenApiInfo } from '../openapi/openapi-document.ts';
import { API_PREFIX } from './api-target.ts';

/** Where the OpenAPI document of the live endpoints is served. */
export const OPENAPI_PATH = '/_/openapi.json';

/**
 * `GET /_/openapi.json`: the OpenAPI 3.1 document of the endpoints live right now. Built on the
 * first request after the endpoint table changed and kept as JSON text until it changes again.
 */
export function openApiRoutes(deps: {
  endpoints: EndpointTable;
  info: OpenApiInfo;
  publicOrigin: string | undefined;
}) {
  const { endpoints } = deps;
  let cached: { version: number; json: string } | undefined;
  return function routes(app: FastifyInstance, _opts: unknown, done: (err?: Error) => void): void {
    app.get(OPENAPI_PATH, (_request, reply) => {
      if (cached?.version !== endpoints.version) {
        const document = openApiDocument(endpoints.live(), {
          info: deps.info,
          prefix: API_PREFIX,
          publicOrigin: deps.publicOrigin,
        });
        cached = { version: endpoints.version, json: JSON.stringify(document) };
      }
      void reply
        .header('cache-control', 'no-cache')
        .type('application/json; charset=utf-8')
        .send(cached.json);
    });
    done();
  };
}
