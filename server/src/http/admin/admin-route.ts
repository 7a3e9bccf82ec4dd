import type { FastifyInstance, FastifyReply, FastifyRequest, HTTPMethods } from 'fastify';
import { MAX_ADMIN_BODY_BYTES } from './request-body.ts';

/** Returns the answer body (or sends it itself, e.g. a 204, and returns undefined). */
export type AdminHandler = (request: FastifyRequest, reply: FastifyReply) => unknown;

/**
 * Adds an admin API route at `path` (written with its trailing slash, as the API documents
 * it) and at the same path without the slash, unless the host app already folds the two.
 */
export function adminRoute(
  app: FastifyInstance,
  method: HTTPMethods,
  path: string,
  handler: AdminHandler,
): void {
  app.route({ method, url: path, handler, bodyLimit: MAX_ADMIN_BODY_BYTES });
  const config = app.initialConfig as {
    ignoreTrailingSlash?: boolean;
    routerOptions?: { ignoreTrailingSlash?: boolean };
  };
  const folded = config.routerOptions?.ignoreTrailingSlash ?? config.ignoreTrailingSlash;
  if (folded !== true && path.endsWith('/')) {
    app.route({ method, url: path.slice(0, -1), handler, bodyLimit: MAX_ADMIN_BODY_BYTES });
  }
}
