import assert from 'node:assert/strict';
import { test } from 'node:test';
import { SwitchboardError } from '@switchboard/server';
import { connect } from '@switchboard/uplink';
import { spawnUplink } from './helpers/child.ts';
import { runCli } from './helpers/cli.ts';
import { expectError } from './helpers/http-client.ts';
import { jsonOf, startAdminServer } from './helpers/admin.ts';

interface KeyJson {
  id: string;
  name: string;
  kind: string;
  created_at: string;
  revoked: boolean;
  key?: string;
}

interface UserJson {
  id: number;
  email: string;
  enabled: boolean;
  created_at: string;
  data: Record<string, unknown>;
}

interface ListJson<T> {
  objects: T[];
  num_results: number;
  page: number;
  total_pages: number;
}

/** Every admin route, with a body where it takes one (ids need not exist: auth comes first). */
const ROUTES: ReadonlyArray<[method: string, path: string, body?: unknown]> = [
  ['GET', 'uplinks/'],
  ['GET', 'uplinks/u_nope/'],
  ['DELETE', 'uplinks/u_nope/'],
  ['POST', 'uplinks/u_nope/drain/'],
  ['GET', 'functions/'],
  ['GET', 'endpoints/'],
  ['GET', 'errors/'],
  ['GET', 'keys/'],
  ['POST', 'keys/', { name: 'k', kind: 'server' }],
  ['GET', 'keys/nope/'],
  ['DELETE', 'keys/nope/'],
  ['GET', 'users/'],
  ['POST', 'users/', { email: 'a@example.com', password: 'pw' }],
  ['GET', 'users/1/'],
  ['PATCH', 'users/1/', { enabled: false }],
  ['DELETE', 'users/1/'],
  ['GET', 'no-such-route/'],
];

test('every admin route refuses a missing, malformed, unknown or revoked token with 401 and a code', async (t) => {
  const server = await startAdminServer(t);
  const core = server.sb.app.switchboard;
  const revoked = core.adminTokens.create('revoked-one');
  core.adminTokens.revoke('revoked-one');
  const cases: Array<[authorization: string | null, code: string]> = [
    [null, 'SB_ERR_ADMIN_TOKEN_MISSING'],
    [`Bearer ${server.token}`, 'SB_ERR_ADMIN_TOKEN_MISSING'], // another scheme is no token
    ['Token', 'SB_ERR_ADMIN_TOKEN_MISSING'],
    [`Token ${server.token}x`, 'SB_ERR_ADMIN_TOKEN_INVALID'],
    ['Token sbt_wrong', 'SB_ERR_ADMIN_TOKEN_INVALID'],
    [`Token ${revoked.token}`, 'SB_ERR_ADMIN_TOKEN_INVALID'],
  ];
  for (const [method, path, body] of ROUTES) {
    for (const [authorization, code] of cases) {
      const response = await server.admin(path, { method, body, authorization });
      await expectError(response, 401, code);
      assert.equal(response.headers.get('www-authenticate'), 'Token realm="switchboard-admin"');
    }
  }
  // Nothing was changed by the refused requests.
  assert.equal(core.users.list().length, 0);
  assert.ok(!core.keys.list().some((key) => key.name === 'k'));
  // The scheme is case-insensitive, like HTTP's.
  assert.equal(
    (await server.admin('keys/', { authorization: `token ${server.token}` })).status,
    200,
  );
});

test('keys: list with pagination, create (secret once), get, revoke; 400 for bad bodies, 404 for unknown ids', async (t) => {
  const server = await startAdminServer(t);
  const { admin } = server;

  const created = await jsonOf<KeyJson>(
    await admin('keys/', { method: 'POST', body: { name: 'laptop', kind: 'client' } }),
    201,
  );
  assert.equal(created.name, 'laptop');
  assert.equal(created.kind, 'client');
  assert.equal(created.revoked, false);
  assert.match(created.key!, /^sbk_c_/);
  assert.ok(!Number.isNaN(Date.parse(created.created_at)));
  const client = await connect({ url: server.url, key: created.key!, reconnect: false });
  await client.close();

  const one = await jsonOf<KeyJson>(await admin(`keys/${created.id}/`));
  assert.deepEqual(one, stripKey(created));
  const page = await jsonOf<ListJson<KeyJson>>(await admin('keys/'));
  assert.ok(page.objects.some((key) => key.id === created.id && key.key === undefined));
  assert.ok(!JSON.stringify(page).includes(created.key!), 'a list never holds a secret');

  // Bad bodies.
  const post = (body: unknown) => admin('keys/', { method: 'POST', body });
  await expectError(await post('{"name": '), 400, 'SB_ERR_HTTP_BAD_BODY');
  await expectError(await post([]), 400, 'SB_ERR_ADMIN_BAD_REQUEST');
  await expectError(await post('"laptop"'), 400, 'SB_ERR_ADMIN_BAD_REQUEST');
  await expectError(await post({ kind: 'server' }), 400, 'SB_ERR_ADMIN_BAD_REQUEST');
  await expectError(await post({ name: 'x' }), 400, 'SB_ERR_ADMIN_BAD_REQUEST');
  await expectError(await post({ name: 7, kind: 'server' }), 400, 'SB_ERR_ADMIN_BAD_REQUEST');
  await expectError(await post({ name: null, kind: 'server' }), 400, 'SB_ERR_ADMIN_BAD_REQUEST');
  await expectError(
    await post({ name: 'x', kind: 'server', extra: 1 }),
    400,
    'SB_ERR_ADMIN_BAD_REQUEST',
  );
  await expectError(await post({ name: 'x', kind: 'root' }), 400, 'SB_ERR_KEY_INVALID');
  await expectError(await post({ name: '  ', kind: 'server' }), 400, 'SB_ERR_KEY_INVALID');
  await expectError(await post({ name: 'a\nb', kind: 'server' }), 400, 'SB_ERR_KEY_INVALID');
  const xml = await fetch(`${server.url}/_/admin/api/v1/keys/`, {
    method: 'POST',
    headers: { authorization: `Token ${server.token}`, 'content-type': 'application/xml' },
    body: '<key/>',
  });
  await expectError(xml, 415, 'SB_ERR_HTTP_UNSUPPORTED_MEDIA_TYPE');

  // Unknown ids.
  await expectError(await admin('keys/no-such-id/'), 404, 'SB_ERR_NO_SUCH_KEY');
  await expectError(
    await admin('keys/no-such-id/', { method: 'DELETE' }),
    404,
    'SB_ERR_NO_SUCH_KEY',
  );
  // A key provisioned through options cannot be revoked here.
  await expectError(
    await admin('keys/options:test-server/', { method: 'DELETE' }),
    400,
    'SB_ERR_ADMIN_BAD_REQUEST',
  );

  // Revoke: 204, shown revoked, refused at connect; revoking again is harmless.
  const revoked = await admin(`keys/${created.id}/`, { method: 'DELETE' });
  assert.equal(revoked.status, 204);
  assert.equal(await revoked.text(), '');
  assert.equal((await jsonOf<KeyJson>(await admin(`keys/${created.id}/`))).revoked, true);
  await assert.rejects(connect({ url: server.url, key: created.key!, reconnect: false }), {
    code: 'SB_ERR_AUTH_BAD_KEY',
  });
  assert.equal((await admin(`keys/${created.id}/`, { method: 'DELETE' })).status, 204);
  // Paths work without the trailing slash too.
  assert.equal((await admin(`keys/${created.id}`)).status, 200);
});

function stripKey(key: KeyJson): KeyJson {
  const { key: _secret, ...rest } = key;
  return rest;
}

test('lists are paginated 50 a page with ?page= (1-based); a bad page is 400, one past the end 404', async (t) => {
  const server = await startAdminServer(t);
  const core = server.sb.app.switchboard;
  for (let i = 0; i < 118; i++) core.keys.create(`key-${i}`, 'server');
  // 118 stored + 2 provisioned by the test server = 120 keys: pages of 50, 50, 20.
  const pages = [];
  for (const page of [1, 2, 3]) {
    pages.push(await jsonOf<ListJson<KeyJson>>(await server.admin(`keys/?page=${page}`)));
  }
  assert.deepEqual(
    pages.map((p) => [p.page, p.objects.length, p.num_results, p.total_pages]),
    [
      [1, 50, 120, 3],
      [2, 50, 120, 3],
      [3, 20, 120, 3],
    ],
  );
  const ids = pages.flatMap((p) => p.objects.map((key) => key.id));
  assert.equal(new Set(ids).size, 120, 'no key on two pages');
  assert.deepEqual(await jsonOf(await server.admin('keys/')), pages[0]);
  await expectError(await server.admin('keys/?page=4'), 404, 'SB_ERR_HTTP_NOT_FOUND');
  for (const bad of ['0', '-1', 'x', '1.5', '']) {
    await expectError(await server.admin(`keys/?page=${bad}`), 400, 'SB_ERR_ADMIN_BAD_REQUEST');
  }
  // An empty list still has its page 1.
  assert.deepEqual(await jsonOf(await server.admin('users/')), {
    objects: [],
    num_results: 0,
    page: 1,
    total_pages: 1,
  });
  await expectError(await server.admin('users/?page=2'), 404, 'SB_ERR_HTTP_NOT_FOUND');
});

test('users: create, list, get, update, delete through the store; never a hash; coded 400/404/409', async (t) => {
  const server = await startAdminServer(t);
  const { admin } = server;
  const core = server.sb.app.switchboard;

  const created = await jsonOf<UserJson>(
    await admin('users/', {
      method: 'POST',
      body: { email: 'ada@example.com', password: 'first password', data: { team: 'ops' } },
    }),
    201,
  );
  assert.deepEqual(
    { ...created, created_at: typeof created.created_at },
    { id: 1, email: 'ada@example.com', enabled: true, created_at: 'string', data: { team: 'ops' } },
  );
  assert.equal((await core.users.verify('ada@example.com', 'first password')).kind, 'ok');
  const disabled = await jsonOf<UserJson>(
    await admin('users/', {
      method: 'POST',
      body: { email: 'bob@example.com', password: 'bob password', enabled: false },
    }),
    201,
  );
  assert.equal(disabled.enabled, false);

  const list = await jsonOf<ListJson<UserJson>>(await admin('users/'));
  assert.deepEqual(
    list.objects.map((user) => user.email),
    ['ada@example.com', 'bob@example.com'],
  );
  assert.ok(!JSON.stringify(list).includes('scrypt'), 'no password hash in answers');
  assert.deepEqual(await jsonOf(await admin('users/1/')), list.objects[0]);

  const patched = await jsonOf<UserJson>(
    await admin('users/1/', {
      method: 'PATCH',
      body: { password: 'second password', enabled: false, data: { plan: 'pro' } },
    }),
  );
  assert.equal(patched.enabled, false);
  assert.deepEqual(patched.data, { plan: 'pro' });
  assert.equal((await core.users.verify('ada@example.com', 'first password')).kind, 'invalid');
  assert.equal((await core.users.verify('ada@example.com', 'second password')).kind, 'disabled');

  // Bad bodies and conflicts.
  const post = (body: unknown) => admin('users/', { method: 'POST', body });
  await expectError(await post({ email: 'c@example.com' }), 400, 'SB_ERR_ADMIN_BAD_REQUEST');
  await expectError(
    await post({ email: 'c@example.com', password: 5 }),
    400,
    'SB_ERR_ADMIN_BAD_REQUEST',
  );
  await expectError(
    await post({ email: 'c@example.com', password: 'pw', enabled: 'yes' }),
    400,
    'SB_ERR_ADMIN_BAD_REQUEST',
  );
  await expectError(
    await post({ email: 'c@example.com', password: 'pw', data: [1] }),
    400,
    'SB_ERR_ADMIN_BAD_REQUEST',
  );
  await expectError(
    await post({ email: 'c@example.com', password: 'pw', role: 'admin' }),
    400,
    'SB_ERR_ADMIN_BAD_REQUEST',
  );
  await expectError(await post({ email: 'nope', password: 'pw' }), 400, 'SB_ERR_USER_INVALID');
  await expectError(
    await post({ email: 'c@example.com', password: '' }),
    400,
    'SB_ERR_USER_INVALID',
  );
  // Shorter than minPasswordLength (default 8), on create and on update.
  await expectError(
    await post({ email: 'c@example.com', password: 'seven77' }),
    400,
    'SB_ERR_USER_INVALID',
  );
  await expectError(
    await admin('users/1/', { method: 'PATCH', body: { password: 'short' } }),
    400,
    'SB_ERR_USER_INVALID',
  );
  await expectError(
    await post({ email: 'ADA@example.com', password: 'long enough' }),
    409,
    'SB_ERR_USER_EXISTS',
  );
  await expectError(await post('{broken'), 400, 'SB_ERR_HTTP_BAD_BODY');
  const patch = (id: string, body: unknown) => admin(`users/${id}/`, { method: 'PATCH', body });
  await expectError(await patch('1', { enabled: 1 }), 400, 'SB_ERR_ADMIN_BAD_REQUEST');
  await expectError(await patch('1', 'null'), 400, 'SB_ERR_ADMIN_BAD_REQUEST');
  await expectError(await patch('1', { email: 'bob@example.com' }), 409, 'SB_ERR_USER_EXISTS');

  // Unknown ids.
  for (const id of ['99', 'abc', '0', '1e3']) {
    await expectError(await admin(`users/${id}/`), 404, 'SB_ERR_NO_SUCH_USER');
    await expectError(await patch(id, { enabled: true }), 404, 'SB_ERR_NO_SUCH_USER');
    await expectError(
      await admin(`users/${id}/`, { method: 'DELETE' }),
      404,
      'SB_ERR_NO_SUCH_USER',
    );
  }

  const removed = await admin('users/2/', { method: 'DELETE' });
  assert.equal(removed.status, 204);
  assert.equal(core.users.find(2), undefined);
  await expectError(await admin('users/2/', { method: 'DELETE' }), 404, 'SB_ERR_NO_SUCH_USER');
});

test('rate limits per token, endpoint and method: 429 with Retry-After past the limit; failed sign-ins per address', async (t) => {
  const server = await startAdminServer(t, {
    adminRateLimits: { read: { max: 3, windowMs: 60_000 }, write: { max: 2, windowMs: 60_000 } },
  });
  const { admin } = server;
  for (let i = 0; i < 3; i++) assert.equal((await admin('keys/')).status, 200);
  const limited = await admin('keys/');
  await expectError(limited, 429, 'SB_ERR_RATE_LIMITED');
  const retryAfter = Number(limited.headers.get('retry-after'));
  assert.ok(retryAfter >= 1 && retryAfter <= 60, `Retry-After ${retryAfter}`);

  await expectError(await admin('keys'), 429, 'SB_ERR_RATE_LIMITED'); // same route, no slash
  // Another endpoint, and the same endpoint for another token, have their own budgets.
  assert.equal((await admin('users/')).status, 200);
  const other = server.sb.app.switchboard.adminTokens.create('other').token;
  assert.equal((await admin('keys/', { authorization: `Token ${other}` })).status, 200);

  // Writes have their own (smaller) limit; a refused write changes nothing.
  const post = (name: string) => admin('keys/', { method: 'POST', body: { name, kind: 'client' } });
  assert.equal((await post('w1')).status, 201);
  assert.equal((await post('w2')).status, 201);
  await expectError(await post('w3'), 429, 'SB_ERR_RATE_LIMITED');
  assert.ok(!server.sb.keys.list().some((key) => key.name === 'w3'));

  // Failed authentications count per client address (at the read limit), then 429.
  for (let i = 0; i < 3; i++) {
    await expectError(
      await admin('keys/', { authorization: 'Token guess' }),
      401,
      'SB_ERR_ADMIN_TOKEN_INVALID',
    );
  }
  await expectError(
    await admin('keys/', { authorization: 'Token guess' }),
    429,
    'SB_ERR_RATE_LIMITED',
  );
});

test('revoking a key through the API closes its live uplink child at once and fails its calls in flight', async (t) => {
  const server = await startAdminServer(t);
  const created = await jsonOf<KeyJson>(
    await server.admin('keys/', { method: 'POST', body: { name: 'worker', kind: 'server' } }),
    201,
  );
  const child = await spawnUplink(t, server.url, created.key!);
  // A second uplink on another key stays connected.
  const other = await jsonOf<KeyJson>(
    await server.admin('keys/', { method: 'POST', body: { name: 'other', kind: 'server' } }),
    201,
  );
  const bystander = await connect({ url: server.url, key: other.key!, reconnect: false });
  t.after(() => bystander.close());

  const inFlight = server.sb.call('hang');
  inFlight.catch(() => {}); // asserted below; it fails while the DELETE is answered
  await child.waitFor(/^started hang$/);
  assert.equal((await server.admin(`keys/${created.id}/`, { method: 'DELETE' })).status, 204);

  await assert.rejects(inFlight, (error: unknown) => {
    assert.ok(error instanceof SwitchboardError);
    assert.equal(error.code, 'SB_ERR_UPLINK_DISCONNECTED');
    return true;
  });
  await child.waitFor(/^status closed SB_ERR_AUTH_BAD_KEY$/);
  await assert.rejects(server.sb.call('add', 1, 2), { code: 'SB_ERR_NO_SUCH_FUNCTION' });
  assert.ok(Array.isArray(await bystander.call('sb.users.list')), 'the other key still works');
});

test('a key revoked by the CLI (another process) or by app code closes its live uplinks too', async (t) => {
  const server = await startAdminServer(t, { pingIntervalMs: 200 });
  const { sb, url, dataDir } = server;
  const cliKey = sb.keys.create('by-cli', 'server');
  const appKey = sb.keys.create('by-app', 'server');
  const [viaCli, viaApp] = await Promise.all([
    spawnUplink(t, url, cliKey.key),
    spawnUplink(t, url, appKey.key),
  ]);

  const revoked = await runCli(t, dataDir, ['keys', 'revoke', 'by-cli']);
  assert.equal(revoked.code, 0, revoked.err);
  await viaCli.waitFor(/^status closed SB_ERR_AUTH_BAD_KEY$/);
  assert.ok(!viaApp.lines.some((line) => line.startsWith('status closed')), 'only that key');

  sb.keys.revoke('by-app');
  await viaApp.waitFor(/^status closed SB_ERR_AUTH_BAD_KEY$/);
  assert.equal(sb.app.switchboard.hub.uplinks().length, 0);
});
