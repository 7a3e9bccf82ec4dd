// Issue 20, item 2: users' API tokens. Created with the CLI, the admin API and the sb.users.tokens
// built-ins; used with `Authorization: Token` against a real uplink child process's endpoints
// (and /_/call); listed without the secret; revoked; limited per token.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { test, type TestContext } from 'node:test';
import { connect } from '@switchboard/uplink';
import { startAdminServer, jsonOf, type AdminServer } from './helpers/admin.ts';
import { spawnScript } from './helpers/child.ts';
import { runCli } from './helpers/cli.ts';
import { basic, expectError, type Json } from './helpers/http-client.ts';
import { CLIENT_KEY, SERVER_KEY } from './helpers/server.ts';

const TOKEN_CHALLENGE = 'Token realm="switchboard"';
const BASIC_CHALLENGE = 'Basic realm="switchboard", charset="UTF-8"';
const TOKEN_LINE = /^sbu_[A-Za-z0-9_-]{43}$/m;

interface TokenView {
  id: string;
  user_id: number;
  name: string;
  created_at: string;
  last_used_at: string | null;
  revoked_at: string | null;
  token?: string;
}

/** A server with an admin token, user ada, and the token fixture uplink connected. */
async function setUp(
  t: TestContext,
  signInThrottle = { max: 50, windowMs: 60_000 },
): Promise<
  AdminServer & { adaId: number; get: (path: string, auth?: string) => Promise<Response> }
> {
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

test('a token made with the CLI signs its user in at a real uplink endpoint, is listed without its secret, and fails with 401 once revoked', async (t) => {
  const { sb, dataDir, adaId, admin, get } = await setUp(t);

  const created = await runCli(t, dataDir, [
    'users',
    'tokens',
    'create',
    'ada@example.com',
    '--name',
    'laptop',
  ]);
  assert.equal(created.code, 0, created.err);
  const token = TOKEN_LINE.exec(created.out)?.[0];
  assert.ok(token !== undefined, created.out);
  const tokenId = /\(id ([0-9a-f-]{36})\)/.exec(created.out)?.[1];
  assert.ok(tokenId !== undefined, created.out);

  // Used: the handler in the uplink process sees the token's user (and no Basic username).
  const used = await get('/tok/me', `Token ${token}`);
  assert.equal(used.status, 200);
  const body = (await used.json()) as { user: Json; username: unknown; contextUser: unknown };
  assert.equal(body.user.id, adaId);
  assert.equal(body.contextUser, 'ada@example.com', 'getRequest().user too');
  assert.equal(body.user.email, 'ada@example.com');
  assert.equal(body.username, null);
  // The scheme is case-insensitive, as Basic's is.
  assert.equal((await get('/tok/me', `token ${token}`)).status, 200);
  // Basic still works on the same endpoint.
  const viaBasic = await get('/tok/me', basic('ada@example.com', 'ada password'));
  assert.equal(viaBasic.status, 200);
  assert.equal(((await viaBasic.json()) as { user: Json }).user.email, 'ada@example.com');

  // Stored hashed: the row holds SHA-256(token), nowhere the token.
  const rows = sb.app.switchboard.db.prepare('SELECT * FROM user_tokens').all() as Json[];
  assert.equal(rows.length, 1);
  assert.equal(rows[0]!.hash, createHash('sha256').update(token).digest('hex'));
  assert.ok(!JSON.stringify(rows).includes(token));

  // Listed by the CLI and the admin API: the name, last used set, never the secret.
  const listed = await runCli(t, dataDir, ['users', 'tokens', 'list', 'ada@example.com']);
  assert.equal(listed.code, 0, listed.err);
  assert.match(listed.out, /^id +name +created +last used +state$/m);
  const line = listed.out.split('\n').find((row) => row.startsWith(tokenId));
  assert.match(line ?? '', /^\S+ +laptop +\S+Z +\d{4}-\S+Z +active$/);
  assert.ok(!listed.out.includes('sbu_'));
  const page = await jsonOf<{ objects: TokenView[]; num_results: number }>(
    await admin(`users/${adaId}/tokens/`),
  );
  assert.equal(page.num_results, 1);
  const [view] = page.objects;
  assert.deepEqual(Object.keys(view!).sort(), [
    'created_at',
    'id',
    'last_used_at',
    'name',
    'revoked_at',
    'user_id',
  ]);
  assert.equal(view!.id, tokenId);
  assert.equal(view!.user_id, adaId);
  assert.equal(view!.name, 'laptop');
  assert.equal(view!.revoked_at, null);
  assert.ok(Date.parse(view!.last_used_at ?? '') > 0, 'last use recorded');

  // Revoked with the CLI: the next request is refused, with a Token challenge.
  const revoked = await runCli(t, dataDir, [
    'users',
    'tokens',
    'revoke',
    'ada@example.com',
    tokenId,
  ]);
  assert.equal(revoked.code, 0, revoked.err);
  const refused = await get('/tok/me', `Token ${token}`);
  await expectError(refused, 401, 'SB_ERR_AUTH_FAILED');
  assert.equal(refused.headers.get('www-authenticate'), TOKEN_CHALLENGE);
  const after = await runCli(t, dataDir, ['users', 'tokens', 'list', 'ada@example.com']);
  assert.match(after.out, new RegExp(`^${tokenId} +laptop .* revoked \\S+Z$`, 'm'));
});

test("the admin API creates, shows, lists and revokes a user's tokens; tokens go with their user", async (t) => {
  const { sb, adaId, admin, get } = await setUp(t);

  const made = await jsonOf<TokenView>(
    await admin(`users/${adaId}/tokens/`, { method: 'POST', body: { name: 'ci' } }),
    201,
  );
  assert.match(made.token ?? '', TOKEN_LINE);
  assert.equal(made.name, 'ci');
  assert.equal(made.user_id, adaId);
  assert.equal(made.last_used_at, null);
  // Without a body: the default name.
  const unnamed = await jsonOf<TokenView>(
    await admin(`users/${adaId}/tokens`, { method: 'POST' }),
    201,
  );
  assert.equal(unnamed.name, 'api');
  assert.notEqual(unnamed.token, made.token);

  assert.equal((await get('/tok/me', `Token ${made.token}`)).status, 200);
  const shown = await jsonOf<TokenView>(await admin(`users/${adaId}/tokens/${made.id}/`));
  assert.equal(shown.id, made.id);
  assert.equal(shown.token, undefined, 'the secret is shown once');
  assert.ok(shown.last_used_at !== null);

  // Mistakes, coded.
  await expectError(
    await admin(`users/${adaId}/tokens/`, { method: 'POST', body: { name: ' ' } }),
    400,
    'SB_ERR_USER_TOKEN_INVALID',
  );
  await expectError(
    await admin(`users/${adaId}/tokens/`, { method: 'POST', body: { name: 'x', scope: 'all' } }),
    400,
    'SB_ERR_ADMIN_BAD_REQUEST',
  );
  await expectError(
    await admin(`users/${adaId}/tokens/`, { method: 'POST', body: { name: 7 } }),
    400,
    'SB_ERR_ADMIN_BAD_REQUEST',
  );
  await expectError(await admin('users/999/tokens/'), 404, 'SB_ERR_NO_SUCH_USER');
  await expectError(await admin('users/abc/tokens/'), 404, 'SB_ERR_NO_SUCH_USER');
  await expectError(
    await admin(`users/${adaId}/tokens/no-such-id/`, { method: 'DELETE' }),
    404,
    'SB_ERR_NO_SUCH_USER_TOKEN',
  );
  await expectError(
    await admin(`users/${adaId}/tokens/`, { authorization: null }),
    401,
    'SB_ERR_ADMIN_TOKEN_MISSING',
  );
  // A token is reached only through its own user.
  const bob = await sb.users.create({ email: 'bob@example.com', password: 'bob password' });
  await expectError(
    await admin(`users/${bob.id}/tokens/${made.id}/`, { method: 'DELETE' }),
    404,
    'SB_ERR_NO_SUCH_USER_TOKEN',
  );

  // Revoked: 204, again 204; refused from the next request; listed as revoked.
  const revoke = await admin(`users/${adaId}/tokens/${made.id}/`, { method: 'DELETE' });
  assert.equal(revoke.status, 204);
  assert.equal((await admin(`users/${adaId}/tokens/${made.id}`, { method: 'DELETE' })).status, 204);
  await expectError(await get('/tok/me', `Token ${made.token}`), 401, 'SB_ERR_AUTH_FAILED');
  const listed = await jsonOf<{ objects: TokenView[] }>(await admin(`users/${adaId}/tokens/`));
  assert.deepEqual(
    listed.objects.map((token) => [token.name, token.revoked_at !== null]),
    [
      ['ci', true],
      ['api', false],
    ],
  );

  // Deleting the user deletes its tokens.
  assert.equal((await get('/tok/me', `Token ${unnamed.token}`)).status, 200);
  assert.equal((await admin(`users/${adaId}/`, { method: 'DELETE' })).status, 204);
  await expectError(await get('/tok/me', `Token ${unnamed.token}`), 401, 'SB_ERR_AUTH_FAILED');
  const left = sb.app.switchboard.db.prepare('SELECT COUNT(*) AS n FROM user_tokens').get();
  assert.deepEqual(left, { n: 0 });
});

test('server keys manage tokens through sb.users.tokens.* (uplink.users.tokens); client keys cannot; /_/call takes a token as its user', async (t) => {
  const { sb, url, get } = await setUp(t);
  const uplink = await connect({ url, key: SERVER_KEY, reconnect: false });
  t.after(() => uplink.close());

  const created = await uplink.users.tokens.create('ada@example.com', 'script');
  assert.match(created.token, TOKEN_LINE);
  assert.equal(created.name, 'script');
  const unnamed = await uplink.users.tokens.create(created.userId);
  assert.equal(unnamed.name, 'api');
  const listed = await uplink.users.tokens.list('ADA@example.com');
  assert.deepEqual(
    listed.map((token) => token.id),
    [created.id, unnamed.id],
  );
  assert.ok(listed.every((token) => !('token' in token)));
  assert.equal((await get('/tok/me', `Token ${created.token}`)).status, 200);

  // /_/call: the token's user is the caller (a requireUser function runs for them).
  const called = await fetch(`${url}/_/call/tok.whoami`, {
    method: 'POST',
    headers: { authorization: `Token ${created.token}`, 'content-type': 'application/json' },
    body: '[]',
  });
  assert.equal(called.status, 200);
  assert.equal(await called.json(), 'ada@example.com');
  const wrongCall = await fetch(`${url}/_/call/tok.whoami`, {
    method: 'POST',
    headers: { authorization: 'Token sbu_nope', 'content-type': 'application/json' },
    body: '[]',
  });
  await expectError(wrongCall, 401, 'SB_ERR_AUTH_FAILED');

  const revoked = await uplink.users.tokens.revoke('ada@example.com', created.id);
  assert.equal(typeof revoked.revokedAt, 'number');
  await expectError(await get('/tok/me', `Token ${created.token}`), 401, 'SB_ERR_AUTH_FAILED');
  await assert.rejects(uplink.users.tokens.revoke('ada@example.com', 'nope'), {
    code: 'SB_ERR_NO_SUCH_USER_TOKEN',
  });
  await assert.rejects(uplink.users.tokens.create('nobody@example.com'), {
    code: 'SB_ERR_NO_SUCH_USER',
  });
  await assert.rejects(uplink.users.tokens.create('ada@example.com', ''), {
    code: 'SB_ERR_USER_TOKEN_INVALID',
  });

  // The public OpenAPI document says so: tok.whoami (requireUser) takes Basic or a token.
  const doc = (await (await fetch(`${url}/_/openapi.json`)).json()) as {
    paths: Record<string, { post?: Json }>;
    components: { securitySchemes: Json };
  };
  assert.deepEqual(doc.paths['/_/call/tok.whoami']?.post?.security, [
    { basicAuth: [] },
    { userToken: [] },
  ]);
  assert.equal((doc.components.securitySchemes.userToken as Json).name, 'Authorization');

  // App code has the store itself.
  assert.equal(sb.userTokens.list('ada@example.com').length, 2);

  const client = await connect({ url, key: CLIENT_KEY, reconnect: false });
  t.after(() => client.close());
  await assert.rejects(client.users.tokens.create('ada@example.com'), {
    code: 'SB_ERR_NO_SUCH_FUNCTION',
  });
});

test('bad tokens are 401 with a code and a challenge, a disabled user is 403, and wrong tokens are throttled per address like sign-ins', async (t) => {
  // 2 failures per login name → 8 per address.
  const { sb, adaId, get } = await setUp(t, { max: 2, windowMs: 60_000 });
  const { token } = sb.userTokens.create(adaId);

  for (const wrong of [
    'sbu_' + 'x'.repeat(43), // shaped like one, unknown
    token.slice(0, -1) + (token.endsWith('a') ? 'b' : 'a'), // one character off
    'notatoken',
    'sbt_' + token.slice(4), // the admin token prefix
  ]) {
    const answer = await get('/tok/me', `Token ${wrong}`);
    await expectError(answer, 401, 'SB_ERR_AUTH_FAILED');
    assert.equal(answer.headers.get('www-authenticate'), TOKEN_CHALLENGE);
  }
  // Not a token header at all: no credentials.
  for (const header of ['Token', 'Token a b', 'Bearer ' + token]) {
    const answer = await get('/tok/me', header);
    await expectError(answer, 401, 'SB_ERR_AUTH_REQUIRED');
    assert.equal(answer.headers.get('www-authenticate'), BASIC_CHALLENGE);
  }
  await expectError(await get('/tok/me'), 401, 'SB_ERR_AUTH_REQUIRED');

  // A disabled user's token signs in no one.
  await sb.users.update(adaId, { enabled: false });
  await expectError(await get('/tok/me', `Token ${token}`), 403, 'SB_ERR_USER_DISABLED');
  await sb.users.update(adaId, { enabled: true });
  assert.equal((await get('/tok/me', `Token ${token}`)).status, 200);

  // 4 failures so far; 4 more use up the address, then even a right token waits.
  for (let i = 0; i < 4; i++) {
    await expectError(await get('/tok/me', `Token sbu_guess${i}`), 401, 'SB_ERR_AUTH_FAILED');
  }
  const throttled = await get('/tok/me', `Token ${token}`);
  await expectError(throttled, 429, 'SB_ERR_LOGIN_THROTTLED');
  assert.ok(Number(throttled.headers.get('retry-after')) >= 1);
  // Basic sign-ins from that address are throttled alike: one budget for guessing.
  await expectError(
    await get('/tok/me', basic('ada@example.com', 'ada password')),
    429,
    'SB_ERR_LOGIN_THROTTLED',
  );
});

test('rateLimit.perToken: 429 with Retry-After past the rate, per token and per endpoint; Basic is not counted per token', async (t) => {
  const { sb, adaId, get } = await setUp(t);
  const first = sb.userTokens.create(adaId, 'first').token;
  const second = sb.userTokens.create(adaId, 'second').token;

  // '3/min' on /tok/limited.
  for (let i = 0; i < 3; i++) {
    const ok = await get('/tok/limited', `Token ${first}`);
    assert.equal(ok.status, 200);
    assert.deepEqual(await ok.json(), { email: 'ada@example.com' });
  }
  const limited = await get('/tok/limited', `Token ${first}`);
  const error = await expectError(limited, 429, 'SB_ERR_RATE_LIMITED');
  const retryAfter = Number(limited.headers.get('retry-after'));
  assert.ok(retryAfter >= 1 && retryAfter <= 60, `Retry-After ${retryAfter}`);
  assert.match(error.message, /3 requests per 60000 ms/);
  // Another token of the same user has its own budget; the endpoint without a limit is open.
  assert.equal((await get('/tok/limited', `Token ${second}`)).status, 200);
  assert.equal((await get('/tok/me', `Token ${first}`)).status, 200);
  // Basic requests are limited per address only (none set here).
  for (let i = 0; i < 4; i++) {
    const viaBasic = await get('/tok/limited', basic('ada@example.com', 'ada password'));
    assert.equal(viaBasic.status, 200);
  }

  // Both forms at once: '2 / h' per token (written with spaces), 1000 a minute per address.
  assert.equal((await get('/tok/both', `Token ${second}`)).status, 200);
  assert.equal((await get('/tok/both', `Token ${second}`)).status, 200);
  const both = await get('/tok/both', `Token ${second}`);
  await expectError(both, 429, 'SB_ERR_RATE_LIMITED');
  assert.ok(Number(both.headers.get('retry-after')) > 60, 'an hour window');
});

test('rateLimit options: perToken takes N/s, N/min or N/h; anything else is SB_ERR_OPTIONS_INVALID; { max, windowMs } still works', async (t) => {
  const { sb, url, adaId, get } = await setUp(t);
  // Uplinks check the same way before sending; the server compares perToken like any option.
  const uplink = await connect({ url, key: SERVER_KEY, reconnect: false });
  t.after(() => uplink.close());
  assert.throws(() => uplink.httpEndpoint('/u', { rateLimit: { perToken: '5/day' } }, () => 1), {
    code: 'SB_ERR_OPTIONS_INVALID',
  });
  uplink.httpEndpoint(
    '/tok/limited',
    { authenticateUsers: true, methods: ['GET'], rateLimit: { perToken: '4/min' } },
    () => 'other',
  );
  await assert.rejects(uplink.synced(), { code: 'SB_ERR_ENDPOINT_CONFLICT' });
  const handler = () => 'ok';
  for (const bad of ['40/minute', '0/s', '40', 'x/min', '-1/h', 40, '1.5/s', '40/min/h']) {
    assert.throws(
      () => sb.httpEndpoint('/bad', { rateLimit: { perToken: bad as string } }, handler),
      { code: 'SB_ERR_OPTIONS_INVALID' },
      String(bad),
    );
  }
  assert.throws(
    () =>
      sb.httpEndpoint('/bad', { rateLimit: { max: 0, windowMs: 1000, perToken: '1/s' } }, handler),
    { code: 'SB_ERR_OPTIONS_INVALID' },
  );
  // A typo names no limit at all: refused rather than ignored.
  for (const bad of [{}, { pertoken: '1/s' }]) {
    assert.throws(() => sb.httpEndpoint('/bad', { rateLimit: bad as never }, handler), {
      code: 'SB_ERR_OPTIONS_INVALID',
    });
  }
  // The per-address form as before: 2 a minute per address, whoever signs in.
  sb.httpEndpoint(
    '/addr',
    { authenticateUsers: true, rateLimit: { max: 2, windowMs: 60_000 } },
    handler,
  );
  const { token } = sb.userTokens.create(adaId);
  assert.equal((await get('/addr', `Token ${token}`)).status, 200);
  assert.equal((await get('/addr', `Token ${token}`)).status, 200);
  await expectError(await get('/addr', `Token ${token}`), 429, 'SB_ERR_RATE_LIMITED');
  // 1/s per token.
  sb.httpEndpoint('/fast', { authenticateUsers: true, rateLimit: { perToken: '1/s' } }, handler);
  assert.equal((await get('/fast', `Token ${token}`)).status, 200);
  await expectError(await get('/fast', `Token ${token}`), 429, 'SB_ERR_RATE_LIMITED');
});

test('last use is written at most once a minute per token, not on every request', async (t) => {
  const { sb, adaId, get } = await setUp(t);
  const { token, id } = sb.userTokens.create(adaId);
  const db = sb.app.switchboard.db;
  const lastUsed = () =>
    (
      db.prepare('SELECT last_used_at AS at FROM user_tokens WHERE id = ?').get(id) as {
        at: number | null;
      }
    ).at;
  assert.equal(lastUsed(), null);
  assert.equal((await get('/tok/me', `Token ${token}`)).status, 200);
  assert.ok(Math.abs(lastUsed()! - Date.now()) < 5000);

  const setLastUsed = db.prepare('UPDATE user_tokens SET last_used_at = ? WHERE id = ?');
  const recent = Date.now() - 30_000;
  setLastUsed.run(recent, id);
  assert.equal((await get('/tok/me', `Token ${token}`)).status, 200);
  assert.equal(lastUsed(), recent, 'used 30 s ago: not written again');
  const old = Date.now() - 61_000;
  setLastUsed.run(old, id);
  assert.equal((await get('/tok/me', `Token ${token}`)).status, 200);
  assert.ok(lastUsed()! > old + 60_000, 'a minute on: written');
});

test('CLI: usage mistakes exit 2, failures exit 1 with the code', async (t) => {
  const { dataDir } = await setUp(t);
  for (const args of [
    ['users', 'tokens'],
    ['users', 'tokens', 'frob'],
    ['users', 'tokens', 'create'],
    ['users', 'tokens', 'create', 'ada@example.com', '--nme', 'x'],
    ['users', 'tokens', 'create', 'ada@example.com', '--name'],
    ['users', 'tokens', 'list'],
    ['users', 'tokens', 'revoke', 'ada@example.com'],
    ['users', 'tokens', 'revoke', 'ada@example.com', 'id', 'extra'],
  ]) {
    const run = await runCli(t, dataDir, args);
    assert.equal(run.code, 2, `${args.join(' ')}: ${run.err}`);
    assert.match(run.err, /--help/);
  }
  for (const [args, code] of [
    [['users', 'tokens', 'create', 'nobody@example.com'], 'SB_ERR_NO_SUCH_USER'],
    [['users', 'tokens', 'list', 'nobody@example.com'], 'SB_ERR_NO_SUCH_USER'],
    [['users', 'tokens', 'create', 'ada@example.com', '--name', ' '], 'SB_ERR_USER_TOKEN_INVALID'],
    [['users', 'tokens', 'revoke', 'ada@example.com', 'no-such-id'], 'SB_ERR_NO_SUCH_USER_TOKEN'],
  ] as const) {
    const run = await runCli(t, dataDir, [...args]);
    assert.equal(run.code, 1, `${args.join(' ')}: ${run.err}`);
    assert.match(run.err, new RegExp(`^switchboard: ${code}: `));
  }
  const help = await runCli(t, dataDir, ['users', 'tokens', '--help']);
  assert.equal(help.code, 0);
  assert.match(help.out, /users tokens create/);
  const usersHelp = await runCli(t, dataDir, ['users', '--help']);
  assert.match(usersHelp.out, /users tokens create\|list\|revoke/);
});

test('REST resources with authenticateUsers take a token too: the handlers see its user; perToken limits them', async (t) => {
  const { sb, url, adaId } = await setUp(t);
  const bob = await sb.users.create({ email: 'bob@example.com', password: 'bob password' });
  const ada = sb.userTokens.create(adaId).token;
  const bobs = sb.userTokens.create(bob.id).token;
  const notes = (token: string, init: RequestInit = {}) =>
    fetch(`${url}/_/api/tok/notes`, {
      ...init,
      headers: { authorization: `Token ${token}`, 'content-type': 'application/json' },
    });

  const created = await notes(ada, { method: 'POST', body: JSON.stringify({ text: 'hi' }) });
  assert.equal(created.status, 201);
  const listed = await notes(ada);
  assert.equal(listed.status, 200);
  assert.deepEqual(await listed.json(), {
    num_results: 1,
    total_pages: 1,
    page: 1,
    objects: [{ id: '1', text: 'hi' }],
  });
  const others = (await (await notes(bobs)).json()) as { num_results: number };
  assert.equal(others.num_results, 0, "bob's token is bob");
  // Ada's token used 2 of its 3 a minute on the resource; the fourth request is refused.
  assert.equal((await notes(ada)).status, 200);
  const limited = await notes(ada);
  await expectError(limited, 429, 'SB_ERR_RATE_LIMITED');
  assert.ok(Number(limited.headers.get('retry-after')) >= 1);
  await expectError(await notes('sbu_wrong'), 401, 'SB_ERR_AUTH_FAILED');
});
