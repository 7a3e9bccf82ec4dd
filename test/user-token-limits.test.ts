// Issue 20, item 2: users' API tokens at the door: wrong tokens (401 coded, throttled like
// sign-ins), per-token rate limits (429 with Retry-After) and their option forms, the last-used
// time's resolution, and the CLI's exit codes. Real server, real uplink child process.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { connect } from '@switchboard/uplink';
import { runCli } from './helpers/cli.ts';
import { basic, expectError } from './helpers/http-client.ts';
import { SERVER_KEY } from './helpers/server.ts';
import {
  BASIC_CHALLENGE,
  TOKEN_CHALLENGE,
  startTokenServer as setUp,
} from './helpers/user-tokens.ts';

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
