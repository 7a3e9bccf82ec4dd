// Issue 20, item 2: users' API tokens. Created with the CLI, the admin API and the sb.users.tokens
// built-ins; used with `Authorization: Token` against a real uplink child process's endpoints,
// resource and /_/call; listed without the secret; revoked. Limits and mistakes:
// user-token-limits.test.ts.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { test } from 'node:test';
import { connect } from '@switchboard/uplink';
import { jsonOf } from './helpers/admin.ts';
import { runCli } from './helpers/cli.ts';
import { basic, expectError, type Json } from './helpers/http-client.ts';
import { CLIENT_KEY, SERVER_KEY } from './helpers/server.ts';
import {
  TOKEN_CHALLENGE,
  TOKEN_LINE,
  startTokenServer as setUp,
  type TokenView,
} from './helpers/user-tokens.ts';

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
