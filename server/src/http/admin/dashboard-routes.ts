import { readFileSync } from 'node:fs';
import { SwitchboardError } from '@switchboard/shared';
import type { FastifyInstance, FastifyReply } from 'fastify';
import { sendError } from '../error-reply.ts';

/** Where the page lives; the admin API is below it at `api/v1/`. */
export const DASHBOARD_PATH = '/_/admin/';

/**
 * The page may load its own scripts, styles and icon and talk to its own origin, nothing else:
 * no inline script or style, no other origin, no framing, no form posting anywhere.
 */
export const DASHBOARD_CSP = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self'",
  "connect-src 'self'",
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
].join('; ');

/** The files of the page and their types: a fixed list, so no request names a path on disk. */
const ASSETS: Readonly<Record<string, string>> = {
  'app.js': 'text/javascript; charset=utf-8',
  'api.js': 'text/javascript; charset=utf-8',
  'dom.js': 'text/javascript; charset=utf-8',
  'format.js': 'text/javascript; charset=utf-8',
  'views.js': 'text/javascript; charset=utf-8',
  'tasks-view.js': 'text/javascript; charset=utf-8',
  'style.css': 'text/css; charset=utf-8',
  'cluster.css': 'text/css; charset=utf-8',
  'tasks.css': 'text/css; charset=utf-8',
  'icon.svg': 'image/svg+xml',
};

const HTML_TYPE = 'text/html; charset=utf-8';

function load(name: string): Buffer {
  return readFileSync(new URL(`../../../dashboard/${name}`, import.meta.url));
}

function secure(reply: FastifyReply, type: string): FastifyReply {
  return reply
    .type(type)
    .header('content-security-policy', DASHBOARD_CSP)
    .header('x-content-type-options', 'nosniff')
    .header('referrer-policy', 'no-referrer')
    .header('x-frame-options', 'DENY')
    .header('cross-origin-opener-policy', 'same-origin')
    .header('cache-control', 'no-cache');
}

/**
 * `GET /_/admin/`: the live dashboard, a static page (read once at start) that signs in with an
 * admin token and polls the admin API. `GET /_/admin/assets/<file>` serves its scripts and
 * styles; `/_/admin` redirects to the page so its relative URLs resolve.
 */
export function dashboardRoutes() {
  const page = load('index.html');
  const assets = new Map(Object.keys(ASSETS).map((name) => [name, load(name)]));

  return function routes(app: FastifyInstance, _opts: unknown, done: (err?: Error) => void): void {
    app.get('/_/admin', (_request, reply) => {
      void reply.redirect(DASHBOARD_PATH, 308);
    });
    app.get(DASHBOARD_PATH, (_request, reply) => {
      void secure(reply, HTML_TYPE).send(page);
    });
    app.get<{ Params: { name: string } }>('/_/admin/assets/:name', (request, reply) => {
      const { name } = request.params;
      const body = Object.hasOwn(ASSETS, name) ? assets.get(name) : undefined;
      if (body === undefined) {
        sendError(
          reply,
          new SwitchboardError('SB_ERR_HTTP_NOT_FOUND', `No dashboard asset named ${name}`),
          false,
        );
        return;
      }
      void secure(reply, ASSETS[name]!).send(body);
    });
    done();
  };
}
