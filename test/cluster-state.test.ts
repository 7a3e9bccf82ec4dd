// Issue 18: keys, admin tokens, users, sessions and the cookie secret shared by every server of a
// cluster through JetStream KV (docs/cluster.md, "Shared state"): real nats-server, real servers.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { connect, type UplinkStatus } from '@switchboard/uplink';
import { admin, call, eventually, startNode, type Node } from './helpers/cluster.ts';
import { runCli } from './helpers/cli.ts';
import { startNats } from './helpers/nats.ts';

const basic = (user: string, password: string) =>
  `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`;

/** GET /_/api/visit with `cookie`; the count the session holds now and the cookie to go on with. */
async function visit(
  node: Node,
  cookie: string | undefined,
): Promise<{ count: number; cookie: string }> {
  const response = await fetch(`${node.url}/_/api/visit`, {
    headers: cookie === undefined ? {} : { cookie },
  });
  assert.equal(response.status, 200);
  const set = response.headers.getSetCookie().find((line) => line.startsWith('sb_session='));
  const body = (await response.json()) as { count: number };
  return { count: body.count, cookie: set?.split(';', 1)[0] ?? cookie ?? '' };
}

test('a key, a user, a session and a revoke made on one server hold on every server', async (t) => {
  const nats = await startNats(t);
  if (nats === undefined) return;
  const [a, b, c] = await Promise.all([
    startNode(t, nats.url, 'a', false),
    startNode(t, nats.url, 'b', false),
    startNode(t, nats.url, 'c', false),
  ]);

  // A key made on a lets an uplink in at b; c's callers reach its function.
  const made = await admin(a, 'POST', 'keys/', { name: 'shared-key', kind: 'server' });
  assert.equal(made.status, 201);
  const key = made.body.key as string;
  // Looked for through b's admin API: presenting a key b does not know yet would be throttled.
  await eventually(
    'the key reaches b',
    async () => (await admin(b, 'GET', `keys/${made.body.id as string}/`)).status === 200,
  );
  const uplink = await connect({ url: b.url, key, reconnect: false });
  const statuses: UplinkStatus[] = [];
  uplink.on('status', (status) => statuses.push(status));
  t.after(() => uplink.close());
  uplink.callable('keyed', () => 'through b');
  await uplink.synced();
  await eventually(
    'c reaches the uplink on b',
    async () => (await call(c, 'keyed', [])).status === 200,
  );

  // A user made on a signs in at c.
  const user = await admin(a, 'POST', 'users/', {
    email: 'ada@example.com',
    password: 'right password',
  });
  assert.equal(user.status, 201);
  await eventually('the user reaches c', async () => {
    const me = await fetch(`${c.url}/_/api/me`, {
      headers: { authorization: basic('ada@example.com', 'right password') },
    });
    return me.status === 200 && ((await me.json()) as { user: string }).user === 'ada@example.com';
  });
  const wrong = await fetch(`${c.url}/_/api/me`, {
    headers: { authorization: basic('ada@example.com', 'wrong password') },
  });
  assert.equal(wrong.status, 401);

  // A session started on a goes on at b and c (the cookie's signature is the cluster's).
  let session = await visit(a, undefined);
  assert.equal(session.count, 1);
  await eventually('the session reaches b', async () => {
    const next = await visit(b, session.cookie);
    if (next.count !== 2) return false;
    session = next;
    return true;
  });
  await eventually(
    'the session reaches c',
    async () => (await visit(c, session.cookie)).count === 3,
  );

  // An admin token made with the CLI on b's data folder works on a; revoked on c's, not any more.
  const created = await runCli(t, b.dataDir, ['tokens', 'create', 'ops']);
  assert.equal(created.code, 0, created.err);
  const opsToken = created.out.trim().split('\n').at(-1)!;
  const opsOnA = () =>
    fetch(`${a.url}/_/admin/api/v1/keys/`, {
      headers: { authorization: `Token ${opsToken}` },
    }).then((response) => response.status);
  await eventually('the token reaches a', async () => (await opsOnA()) === 200);
  await eventually('the token reaches c', async () => {
    const revoked = await runCli(t, c.dataDir, ['tokens', 'revoke', 'ops']);
    return revoked.code === 0;
  });
  await eventually('the revoke reaches a', async () => (await opsOnA()) === 401);

  // The key revoked on c closes its uplink on b at once, for good.
  const revoke = await admin(c, 'DELETE', `keys/${made.body.id as string}/`);
  assert.ok(revoke.status < 300, `revoke answered ${revoke.status}`);
  await eventually('the uplink on b is closed', () =>
    Promise.resolve(
      statuses.some(
        (status) => status.state === 'closed' && status.error?.code === 'SB_ERR_AUTH_BAD_KEY',
      ),
    ),
  );
  await assert.rejects(connect({ url: a.url, key, reconnect: false }), {
    code: 'SB_ERR_AUTH_BAD_KEY',
  });

  // A server joining later gets the whole state: the user, the session, the revoked key.
  const d = await startNode(t, nats.url, 'd', false);
  await eventually('d has the user and the session', async () => {
    const me = await fetch(`${d.url}/_/api/me`, {
      headers: { authorization: basic('ada@example.com', 'right password') },
    });
    return me.status === 200 && (await visit(d, session.cookie)).count > 3;
  });
  await assert.rejects(connect({ url: d.url, key, reconnect: false }), {
    code: 'SB_ERR_AUTH_BAD_KEY',
  });
});

test('changes made while NATS is away reach the others once it is back; users stay numbered apart', async (t) => {
  const nats = await startNats(t);
  if (nats === undefined) return;
  const [a, b] = await Promise.all([
    startNode(t, nats.url, 'a', false),
    startNode(t, nats.url, 'b', false),
  ]);
  // Users made on both servers at once get ids unique in the cluster.
  const made = await Promise.all(
    Array.from({ length: 6 }, (_, i) =>
      admin(i % 2 === 0 ? a : b, 'POST', 'users/', {
        email: `u${i}@example.com`,
        password: 'password 123',
      }),
    ),
  );
  for (const answer of made) assert.equal(answer.status, 201);
  const ids = made.map((answer) => answer.body.id as number);
  assert.equal(new Set(ids).size, ids.length, `ids ${ids.join(',')}`);
  await eventually('both servers list all six users', async () => {
    for (const node of [a, b]) {
      const list = await admin(node, 'GET', 'users/');
      if ((list.body.objects as unknown[]).length !== 6) return false;
    }
    return true;
  });

  await nats.stop();
  // Without NATS: a key made on a works on a; numbering a user needs the cluster.
  const offline = await admin(a, 'POST', 'keys/', { name: 'made-offline', kind: 'server' });
  assert.equal(offline.status, 201);
  const local = await connect({ url: a.url, key: offline.body.key as string, reconnect: false });
  await local.close();
  const refused = await admin(a, 'POST', 'users/', {
    email: 'late@example.com',
    password: 'password 123',
  });
  assert.equal(refused.status, 503);
  assert.equal(refused.body.code, 'SB_ERR_CLUSTER_UNAVAILABLE');

  await nats.restart();
  // Checked through b's admin API: presenting a key b does not know yet would be throttled.
  await eventually(
    'the key made offline reaches b',
    async () => (await admin(b, 'GET', `keys/${offline.body.id as string}/`)).status === 200,
    20_000,
  );
  const there = await connect({ url: b.url, key: offline.body.key as string, reconnect: false });
  await there.close();
});
