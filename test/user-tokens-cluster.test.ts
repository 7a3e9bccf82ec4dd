// Issue 20: users' API tokens are shared by the servers of a cluster (the user_tokens table is
// replicated like users and admin tokens, docs/cluster.md) and their per-token limits hold per
// cluster. Real nats-server, real servers in their own processes, a real uplink.
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { test } from 'node:test';
import { connect } from '@switchboard/uplink';
import { admin, eventually, startNode, type Node } from './helpers/cluster.ts';
import { runCli } from './helpers/cli.ts';
import { startNats } from './helpers/nats.ts';
import { SERVER_KEY } from './helpers/server.ts';

/** Limit hits go out every 100 ms; a second is ample for them to be counted everywhere. */
const SHARED_WITHIN_MS = 1_000;
const HOUR_MS = 3_600_000;

async function get(node: Node, path: string, token: string) {
  const response = await fetch(`${node.url}/_/api${path}`, {
    headers: { authorization: `Token ${token}` },
  });
  const body = (await response.json()) as Record<string, unknown>;
  return { status: response.status, body, retryAfter: response.headers.get('retry-after') };
}

test('a token made on one server signs in on the others, is revoked everywhere, and its limit holds per cluster', async (t) => {
  const nats = await startNats(t);
  if (nats === undefined) return;
  const [a, b] = await Promise.all([
    startNode(t, nats.url, 'a', false),
    startNode(t, nats.url, 'b', false),
  ]);
  // Windows are aligned to the clock: do not start just before one ends.
  const left = HOUR_MS - (Date.now() % HOUR_MS);
  if (left < 30_000) await sleep(left + 100);

  // An uplink on a serves an endpoint limited per token; b's door admits requests to it.
  const uplink = await connect({ url: a.url, key: SERVER_KEY, reconnect: false });
  t.after(() => uplink.close());
  uplink.httpEndpoint(
    '/token-limited',
    { authenticateUsers: true, methods: ['GET'], rateLimit: { perToken: '3/h' } },
    (req) => ({ user: req.user?.email ?? null }),
  );
  await uplink.synced();

  const user = await admin(a, 'POST', 'users/', { email: 'ada@example.com', password: 'ada pass' });
  assert.equal(user.status, 201);
  const userId = user.body.id as number;
  // Made with the CLI on a's data folder (the server finds the change within a second).
  await eventually('the user reaches b', async () => {
    return (await admin(b, 'GET', `users/${userId}/`)).status === 200;
  });
  const created = await runCli(t, a.dataDir, ['users', 'tokens', 'create', 'ada@example.com']);
  assert.equal(created.code, 0, created.err);
  const token = /^sbu_\S+$/m.exec(created.out)![0];
  const tokenId = /\(id ([0-9a-f-]{36})\)/.exec(created.out)![1]!;
  // Looked for through b's admin API: presenting a token b does not know yet would count as a
  // failed sign-in.
  await eventually(
    'the token reaches b',
    async () => (await admin(b, 'GET', `users/${userId}/tokens/${tokenId}/`)).status === 200,
  );
  const onB = await get(b, '/me', token);
  assert.equal(onB.status, 200);
  assert.deepEqual(onB.body, { node: 'b', user: 'ada@example.com' });

  // Per token, per cluster: 2 on a and 1 on b use up '3/h'; the fourth is refused on either.
  await eventually(
    'b serves /token-limited',
    async () => (await fetch(`${b.url}/_/api/token-limited`)).status === 401,
  );
  assert.equal((await get(a, '/token-limited', token)).status, 200);
  assert.equal((await get(a, '/token-limited', token)).status, 200);
  await sleep(SHARED_WITHIN_MS);
  const third = await get(b, '/token-limited', token);
  assert.equal(third.status, 200);
  assert.deepEqual(third.body, { user: 'ada@example.com' }, 'the uplink on a sees the user');
  const refused = await get(b, '/token-limited', token);
  assert.equal(refused.status, 429);
  assert.equal(refused.body.code, 'SB_ERR_RATE_LIMITED');
  assert.ok(Number(refused.retryAfter) > 0, `Retry-After ${refused.retryAfter}`);

  // Revoked through b's admin API: refused on a once the change is there.
  const revoke = await admin(b, 'DELETE', `users/${userId}/tokens/${tokenId}/`);
  assert.equal(revoke.status, 204);
  await eventually('the revoke reaches a', async () => {
    const seen = await admin(a, 'GET', `users/${userId}/tokens/${tokenId}/`);
    return seen.body.revoked_at !== null;
  });
  const onA = await get(a, '/me', token);
  assert.equal(onA.status, 401);
  assert.equal(onA.body.code, 'SB_ERR_AUTH_FAILED');
});
