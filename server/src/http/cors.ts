import type { IncomingHttpHeaders, ServerResponse } from 'node:http';
import type { EndpointPolicy } from '@switchboard/shared';

/** How long a browser may cache a preflight answer: 10 minutes. */
const PREFLIGHT_MAX_AGE_S = '600';

/**
 * Adds CORS headers for a request with an `Origin`: the endpoint's `enableCors` (`true` → `*`,
 * an origin string → that origin when it matches), and configured alternate origins get their
 * origin echoed with credentials allowed. Returns whether the origin is allowed.
 */
export function applyCors(
  res: ServerResponse,
  headers: IncomingHttpHeaders,
  policy: EndpointPolicy | undefined,
  alternateOrigins: ReadonlySet<string>,
): boolean {
  const origin = headers.origin;
  if (origin === undefined) return false;
  if (alternateOrigins.has(origin)) {
    res.setHeader('access-control-allow-origin', origin);
    res.setHeader('access-control-allow-credentials', 'true');
    res.setHeader('vary', 'Origin');
    return true;
  }
  const cors = policy?.enableCors;
  if (cors === true) {
    res.setHeader('access-control-allow-origin', '*');
    return true;
  }
  if (typeof cors === 'string') {
    res.setHeader('vary', 'Origin');
    if (cors !== origin) return false;
    res.setHeader('access-control-allow-origin', cors);
    res.setHeader('access-control-allow-credentials', 'true');
    return true;
  }
  return false;
}

/** Adds the preflight answer's headers (after applyCors allowed the origin). */
export function applyPreflight(
  res: ServerResponse,
  headers: IncomingHttpHeaders,
  allow: readonly string[],
): void {
  res.setHeader('access-control-allow-methods', allow.join(', '));
  const requested = headers['access-control-request-headers'];
  if (requested !== undefined) res.setHeader('access-control-allow-headers', requested);
  res.setHeader('access-control-max-age', PREFLIGHT_MAX_AGE_S);
}
