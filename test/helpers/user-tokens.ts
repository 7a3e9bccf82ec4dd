// Shared by the user API token tests (issue 20): a real server with an admin token, user ada, and
// the token fixture uplink (test/fixtures/token-uplink.ts) in a child process.
import type { TestContext } from 'node:test';
import { startAdminServer, type AdminServer } from './admin.ts';
import { spawnScript } from './child.ts';
import { SERVER_KEY } from './server.ts';

export const TOKEN_CHALLENGE = 'Token realm="switchboard"';
export const BASIC_CHALLENGE = 'Basic realm="switchboard", charset="UTF-8"';
/** A token as the CLI prints it, on its own line. */
export const TOKEN_LINE = /^sbu_[A-Za-z0-9_-]{43}$/m;

/** A token as the admin API shows it. */
export interface TokenView {
  id: string;
  user_id: number;
  name: string;
  created_at: string;
  last_used_at: string | null;
  revoked_at: string | null;
  token?: string;
}

export interface TokenServer extends AdminServer {
  adaId: number;
  /** GET /_/api<path>, with the Authorization header given (none if undefined). */
  get: (path: string, auth?: string) => Promise<Response>;
}

/** A server with an admin token, user ada, and the token fixture uplink connected. */
export async function startTokenServer(
  t: TestContext,
  signInThrottle = { max: 50, windowMs: 60_000 },
): Promise<TokenServer> {
  const server = await startAdminServer(t, { signInThrottle });
  const ada = await server.sb.users.create({ email: 'ada@example.com', password: 'ada password' });
  const child = spawnScript(t, 'test/fixtures/token-uplink.ts', {
    SB_URL: server.url,
    SB_KEY: SERVER_KEY,
  });
  await child.waitFor(/^ready /);
  const get = (path: string, auth?: string) =>
    fetch(`${server.url}/_/api${path}`, {
      headers: auth === undefined ? {} : { authorization: auth },
    });
  return { ...server, adaId: ada.id, get };
}
