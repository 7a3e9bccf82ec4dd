import type { TestContext } from 'node:test';
import type { SwitchboardOptions } from '@switchboard/server';
import { startServer, type TestServer } from './server.ts';

export const ADMIN_PREFIX = '/_/admin/api/v1/';

/** Limits high enough that tests which do not test them never meet them. */
export const GENEROUS_ADMIN_LIMITS = {
  read: { max: 10_000, windowMs: 60_000 },
  write: { max: 10_000, windowMs: 60_000 },
};

export interface AdminServer extends TestServer {
  /** An admin token created in the server's store. */
  token: string;
  /** A request to the admin API with `token` (or the given Authorization, or none if null). */
  readonly admin: (path: string, init?: AdminInit) => Promise<Response>;
}

export interface AdminInit {
  method?: string;
  /** Sent as JSON (a string is sent as is, as application/json). */
  body?: unknown;
  /** The Authorization header: undefined uses the server's token, null sends none. */
  authorization?: string | null;
}

/** A real server with an admin token, closed when the test ends. */
export async function startAdminServer(
  t: TestContext,
  options: SwitchboardOptions = {},
): Promise<AdminServer> {
  const server = await startServer(t, { adminRateLimits: GENEROUS_ADMIN_LIMITS, ...options });
  const { token } = server.sb.app.switchboard.adminTokens.create('test');
  const admin = (path: string, init: AdminInit = {}) => {
    const headers: Record<string, string> = {};
    const authorization = init.authorization === undefined ? `Token ${token}` : init.authorization;
    if (authorization !== null) headers.authorization = authorization;
    let body: string | undefined;
    if (init.body !== undefined) {
      headers['content-type'] = 'application/json';
      body = typeof init.body === 'string' ? init.body : JSON.stringify(init.body);
    }
    return fetch(`${server.url}${ADMIN_PREFIX}${path}`, {
      method: init.method ?? 'GET',
      headers,
      ...(body === undefined ? {} : { body }),
    });
  };
  return { ...server, token, admin };
}

/** The JSON body of a successful answer with `status`, failing with the body otherwise. */
export async function jsonOf<T = Record<string, unknown>>(
  response: Response,
  status = 200,
): Promise<T> {
  const text = await response.text();
  if (response.status !== status) {
    throw new Error(`expected ${status}, got ${response.status}: ${text}`);
  }
  return JSON.parse(text) as T;
}
