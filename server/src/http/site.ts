import type { IncomingHttpHeaders } from 'node:http';
import type { FastifyRequest } from 'fastify';
import type { ResolvedOptions } from '../options.ts';

type SiteOptions = Pick<ResolvedOptions, 'publicOrigin' | 'alternateOrigins'>;

/** Where the app is reached: the configured public origin, else the request's own. */
export function appOriginOf(request: FastifyRequest, options: SiteOptions): string {
  return options.publicOrigin ?? `${request.protocol}://${request.host}`;
}

/** Whether the request came over https (directly or, by configuration, behind a proxy). */
export function isSecure(request: FastifyRequest, options: SiteOptions): boolean {
  return request.protocol === 'https' || options.publicOrigin?.startsWith('https:') === true;
}

/**
 * Whether a request comes from a page of another site, which must not ride on the user's
 * session (cross-site request forgery): its origin is neither the app's nor a configured
 * alternate origin.
 */
export function isCrossSiteRequest(request: FastifyRequest, options: SiteOptions): boolean {
  const appOrigin = appOriginOf(request, options);
  return isCrossSite(
    request.headers,
    (origin) => origin === appOrigin || options.alternateOrigins.includes(origin),
  );
}

/**
 * Decided by `Origin`; without it by `Referer`; without both by `Sec-Fetch-Site` when the
 * browser sent it. A request with none of them (curl, a server, a typed-in address in an old
 * browser) carries no page context and counts as same-site.
 */
export function isCrossSite(
  headers: IncomingHttpHeaders,
  isTrusted: (origin: string) => boolean,
): boolean {
  const origin = headers.origin;
  if (origin !== undefined) return !isTrusted(origin);
  const referer = headers.referer;
  if (referer !== undefined) return !isTrusted(originOf(referer));
  const fetchSite = headers['sec-fetch-site'];
  if (fetchSite !== undefined) return fetchSite !== 'same-origin' && fetchSite !== 'none';
  return false;
}

function originOf(url: string): string {
  try {
    return new URL(url).origin;
  } catch {
    return 'null';
  }
}
