import { createHash } from 'node:crypto';
import type { FastifyRequest } from 'fastify';
import { SwitchboardError } from '@switchboard/shared';
import type { EndpointTable, Resolution } from '../catalog/endpoint-table.ts';

/** Where uplink endpoints are served. */
export const API_PREFIX = '/_/api';
/** Where endpoints are also served behind an access key: `/_/private_api/<key>/...`. */
export const PRIVATE_API_PREFIX = '/_/private_api/';

/** Where a request points, and what the endpoint table made of it. */
export interface Target {
  /** The endpoint path, below the API prefix (percent-encoded, as received). */
  readonly path: string;
  readonly query: string;
  /** `/_/api` or `/_/private_api/<key>`: the API origin the request was reached through. */
  readonly base: string;
  readonly resolution: Resolution;
}

/** A resolution that found an endpoint and a provider for the request's method. */
export type Matched = Extract<Resolution, { kind: 'ok' }>;

/** The private API keys as `resolveTarget` compares them. */
export function privateKeyDigests(keys: readonly string[]): ReadonlySet<string> {
  return new Set(keys.map(digest));
}

/**
 * Splits the request's URL into the endpoint path and query, and resolves the path and method
 * in the endpoint table. A private API path with an unknown key throws SB_ERR_HTTP_NOT_FOUND,
 * exactly like an unknown path (no oracle for keys).
 */
export function resolveTarget(
  request: FastifyRequest,
  endpoints: EndpointTable,
  privateKeys: ReadonlySet<string>,
): Target {
  const url = request.raw.url ?? '/';
  const queryAt = url.indexOf('?');
  const pathEnd = queryAt === -1 ? url.length : queryAt;
  const query = queryAt === -1 ? '' : url.slice(queryAt + 1);
  let path: string;
  let base: string;
  if (url.startsWith(API_PREFIX)) {
    path = url.slice(API_PREFIX.length, pathEnd) || '/';
    base = API_PREFIX;
  } else {
    const rest = url.slice(PRIVATE_API_PREFIX.length, pathEnd);
    const slash = rest.indexOf('/');
    const key = slash === -1 ? rest : rest.slice(0, slash);
    if (!privateKeys.has(digest(key))) throw new SwitchboardError('SB_ERR_HTTP_NOT_FOUND');
    path = slash === -1 ? '/' : rest.slice(slash);
    base = PRIVATE_API_PREFIX + key;
  }
  return { path, query, base, resolution: endpoints.resolve(request.method, path) };
}

function digest(key: string): string {
  return createHash('sha256').update(key).digest('hex');
}
