import assert from 'node:assert/strict';
import { test } from 'node:test';
import { HttpResponse, SwitchboardError } from '@switchboard/server';
import { connect } from '@switchboard/uplink';
import { spawnScript } from './helpers/child.ts';
import { basic, errorOf, expectError, getFrom, type Json } from './helpers/http-client.ts';
import { SERVER_KEY, startServer } from './helpers/server.ts';

const CHALLENGE = 'Basic realm="switchboard", charset="UTF-8"';

test('requireCredentials: 401 with a Basic challenge without them, passed through with them, 400 for a malformed header', async (t) => {
  const { sb, url } = await startServer(t);
  sb.httpEndpoint('/creds', { requireCredentials: true }, (req) => ({
    username: req.username ?? null,
    password: req.password ?? null,
    user: req.user ?? null,
    authorization: req.headers.authorization ?? null,
  }));
  const api = `${url}/_/api`;

  const missing = await fetch(`${api}/creds`);
  await expectError(missing, 401, 'SB_ERR_AUTH_REQUIRED');
  assert.equal(missing.headers.get('www-authenticate'), CHALLENGE);
  // Another scheme is not Basic credentials either.
  const bearer = await fetch(`${api}/creds`, { headers: { authorization: 'Bearer abc' } });
  await expectError(bearer, 401, 'SB_ERR_AUTH_REQUIRED');
  assert.equal(bearer.headers.get('www-authenticate'), CHALLENGE);

  // Nobody checks them: any name and password (with a colon) reach the handler.
  const header = basic('no-such-user@example.com', 'pa:ss wörd');
  const ok = await fetch(`${api}/creds`, { headers: { authorization: header } });
  assert.equal(ok.status, 200);
  assert.deepEqual(await ok.json(), {
    username: 'no-such-user@example.com',
    password: 'pa:ss wörd',
    user: null,
    authorization: header,
  });

  for (const malformed of [
    'Basic',
    'Basic !!!not-base64!!!',
    'Basic abc', // not a multiple of 4
    `Basic ${Buffer.from('no-colon').toString('base64')}`,
  ]) {
    const bad = await fetch(`${api}/creds`, { headers: { authorization: malformed } });
    await expectError(bad, 400, 'SB_ERR_HTTP_BAD_AUTH_HEADER');
  }
  // An endpoint without the option does not look at the header at all.
  sb.httpEndpoint('/open', {}, (req) => req.username ?? 'none');
  const open = await fetch(`${api}/open`, { headers: { authorization: 'Basic !!!' } });
  assert.equal(open.status, 200);
  assert.equal(await open.text(), 'none');
});

test('authenticateUsers: req.user without the hash; unknown and wrong password look the same; disabled is 403', async (t) => {
  const { sb, url } = await startServer(t, { signInThrottle: { max: 50, windowMs: 60_000 } });
  const ada = await sb.users.create({
    email: 'ada@example.com',
    password: 'right password',
    data: { role: 'admin' },
  });
  await sb.users.create({ email: 'bob@example.com', password: 'bob password', enabled: false });
  let calls = 0;
  sb.httpEndpoint('/me', { authenticateUsers: true, methods: ['GET', 'POST'] }, (req) => {
    calls++;
    return { user: req.user ?? null, username: req.username ?? null };
  });
  const api = `${url}/_/api`;

  const ok = await fetch(`${api}/me`, {
    headers: { authorization: basic('ADA@example.com', 'right password') },
  });
  assert.equal(ok.status, 200);
  const text = await ok.text();
  assert.ok(!/scrypt|hash|right password/i.test(text.replace('"username"', '')), text);
  const body = JSON.parse(text) as { user: Json; username: string };
  assert.equal(body.username, 'ADA@example.com');
  assert.deepEqual(Object.keys(body.user).sort(), [
    'createdAt',
    'data',
    'email',
    'enabled',
    'id',
    'lastLoginAt',
  ]);
  assert.equal(body.user.id, ada.id);
  assert.equal(body.user.email, 'ada@example.com');
  assert.deepEqual(body.user.data, { role: 'admin' });
  assert.equal(typeof body.user.lastLoginAt, 'number', 'a sign-in is recorded');
  assert.equal(calls, 1);

  const missing = await fetch(`${api}/me`);
  await expectError(missing, 401, 'SB_ERR_AUTH_REQUIRED');
  assert.equal(missing.headers.get('www-authenticate'), CHALLENGE);

  const unknown = await fetch(`${api}/me`, {
    headers: { authorization: basic('nobody@example.com', 'right password') },
  });
  const wrong = await fetch(`${api}/me`, {
    headers: { authorization: basic('ada@example.com', 'wrong password') },
  });
  assert.equal(unknown.status, 401);
  assert.equal(wrong.status, 401);
  assert.equal(unknown.headers.get('www-authenticate'), CHALLENGE);
  assert.equal(wrong.headers.get('www-authenticate'), CHALLENGE);
  const unknownBody = await errorOf(unknown);
  assert.equal(unknownBody.code, 'SB_ERR_AUTH_FAILED');
  assert.deepEqual(await errorOf(wrong), unknownBody, 'no oracle for existing login names');

  const disabled = await fetch(`${api}/me`, {
    method: 'POST',
    headers: { authorization: basic('bob@example.com', 'bob password') },
  });
  await expectError(disabled, 403, 'SB_ERR_USER_DISABLED');
  // With the wrong password a disabled user looks like everyone else.
  const disabledWrong = await fetch(`${api}/me`, {
    headers: { authorization: basic('bob@example.com', 'nope') },
  });
  assert.deepEqual(await expectError(disabledWrong, 401, 'SB_ERR_AUTH_FAILED'), unknownBody);
  const malformed = await fetch(`${api}/me`, { headers: { authorization: 'Basic ####' } });
  await expectError(malformed, 400, 'SB_ERR_HTTP_BAD_AUTH_HEADER');
  assert.equal(calls, 1, 'the handler never ran for a refused request');

  // Re-enabled, the same credentials pass.
  await sb.users.update('bob@example.com', { enabled: true });
  const enabled = await fetch(`${api}/me`, {
    headers: { authorization: basic('bob@example.com', 'bob password') },
  });
  assert.equal(enabled.status, 200);
});

test('failed sign-ins are throttled per login name and per address, with Retry-After', async (t) => {
  const { sb, url } = await startServer(t, { signInThrottle: { max: 2, windowMs: 60_000 } });
  await sb.users.create({ email: 'ada@example.com', password: 'ada password' });
  await sb.users.create({ email: 'carol@example.com', password: 'carol password' });
  sb.httpEndpoint('/me', { authenticateUsers: true }, (req) => req.user!.email);
  const me = (username: string, password: string) =>
    fetch(`${url}/_/api/me`, { headers: { authorization: basic(username, password) } });

  assert.equal((await me('ada@example.com', 'ada password')).status, 200, 'successes do not count');
  await expectError(await me('ada@example.com', 'x'), 401, 'SB_ERR_AUTH_FAILED');
  await expectError(await me('Ada@Example.com ', 'y'), 401, 'SB_ERR_AUTH_FAILED');
  // Two failures for this name: even the right password waits now.
  for (const password of ['z', 'ada password']) {
    const throttled = await me('ada@example.com', password);
    await expectError(throttled, 429, 'SB_ERR_LOGIN_THROTTLED');
    const retryAfter = Number(throttled.headers.get('retry-after'));
    assert.ok(retryAfter >= 1 && retryAfter <= 60, `Retry-After ${retryAfter}`);
  }
  // Another login name is not affected by ada's failures...
  assert.equal((await me('carol@example.com', 'carol password')).status, 200);
  // ...until this address has failed four times the per-name limit (8), with any names.
  for (let i = 0; i < 6; i++)
    await expectError(await me(`guess${i}@example.com`, 'x'), 401, 'SB_ERR_AUTH_FAILED');
  await expectError(await me('carol@example.com', 'carol password'), 429, 'SB_ERR_LOGIN_THROTTLED');
  // Another address is still welcome (per-address, not global).
  const other = await getFrom('127.0.0.2', `${url}/_/api/me`, {
    authorization: basic('carol@example.com', 'carol password'),
  });
  assert.equal(other.status, 200, other.body);
  assert.equal(other.body, 'carol@example.com');
});

test('a burst of concurrent wrong passwords is throttled too, not only sequential ones', async (t) => {
  const { sb, url } = await startServer(t, { signInThrottle: { max: 2, windowMs: 60_000 } });
  await sb.users.create({ email: 'dave@example.com', password: 'dave password' });
  sb.httpEndpoint('/me', { authenticateUsers: true }, (req) => req.user!.email);
  // A signed-in user's parallel requests are all served (queued behind each other, not refused).
  const parallel = await Promise.all(
    Array.from({ length: 12 }, () =>
      fetch(`${url}/_/api/me`, {
        headers: { authorization: basic('dave@example.com', 'dave password') },
      }),
    ),
  );
  assert.deepEqual(
    parallel.map((response) => response.status),
    Array.from({ length: 12 }, () => 200),
  );
  const answers = await Promise.all(
    Array.from({ length: 12 }, (_, i) =>
      fetch(`${url}/_/api/me`, {
        headers: { authorization: basic('dave@example.com', `guess ${i}`) },
      }).then(async (response) => (await errorOf(response)).code),
    ),
  );
  const failed = answers.filter((code) => code === 'SB_ERR_AUTH_FAILED').length;
  const throttled = answers.filter((code) => code === 'SB_ERR_LOGIN_THROTTLED').length;
  assert.equal(failed + throttled, 12, answers.join());
  assert.ok(failed <= 2, `${failed} passwords were tried in one burst; the limit is 2`);
  const after = await fetch(`${url}/_/api/me`, {
    headers: { authorization: basic('dave@example.com', 'dave password') },
  });
  await expectError(after, 429, 'SB_ERR_LOGIN_THROTTLED');
});

test('rate limits per endpoint and per client address, with the server-wide default', async (t) => {
  const { sb, url } = await startServer(t, { rateLimit: { max: 2, windowMs: 60_000 } });
  sb.httpEndpoint('/limited', { rateLimit: { max: 3, windowMs: 60_000 } }, () => 'ok');
  sb.httpEndpoint('/default-a', {}, () => 'a');
  sb.httpEndpoint('/default-b/:id', {}, (req) => req.params.id!);
  const api = `${url}/_/api`;

  // The endpoint's own limit replaces the default.
  for (let i = 0; i < 3; i++) assert.equal((await fetch(`${api}/limited`)).status, 200);
  const limited = await fetch(`${api}/limited`);
  await expectError(limited, 429, 'SB_ERR_RATE_LIMITED');
  const retryAfter = Number(limited.headers.get('retry-after'));
  assert.ok(retryAfter >= 1 && retryAfter <= 60, `Retry-After ${retryAfter}`);
  // The default: 2 per endpoint (every URL of a pattern counts for it) and address.
  assert.equal((await fetch(`${api}/default-a`)).status, 200);
  assert.equal((await fetch(`${api}/default-a`)).status, 200);
  await expectError(await fetch(`${api}/default-a`), 429, 'SB_ERR_RATE_LIMITED');
  assert.equal((await fetch(`${api}/default-b/1`)).status, 200, 'each endpoint counts alone');
  assert.equal((await fetch(`${api}/default-b/2`)).status, 200);
  await expectError(await fetch(`${api}/default-b/3`), 429, 'SB_ERR_RATE_LIMITED');
  // Another client address has its own count.
  const other = await getFrom('127.0.0.3', `${api}/limited`);
  assert.equal(other.status, 200);
  assert.equal(other.body, 'ok');
  // A limited request is refused before any work: the handler is not reached.
  let reached = 0;
  sb.httpEndpoint('/counted', { rateLimit: { max: 1, windowMs: 60_000 } }, () => ++reached);
  await fetch(`${api}/counted`);
  await expectError(await fetch(`${api}/counted`), 429, 'SB_ERR_RATE_LIMITED');
  assert.equal(reached, 1);
});

test('the private API serves every endpoint under its access keys; a wrong key is an ordinary 404', async (t) => {
  const key = 'private-key_0123456789';
  const { sb, url } = await startServer(t, { privateApiKeys: [key, 'second-key-abcdefghij'] });
  sb.httpEndpoint('/items/:id', { methods: ['GET', 'PUT'] }, (req) => ({
    id: req.params.id,
    path: req.path,
    query: req.query,
    apiOrigin: req.apiOrigin,
  }));
  sb.httpEndpoint('/guarded', { requireCredentials: true }, () => 'in');

  const privately = await fetch(`${url}/_/private_api/${key}/items/7?x=1`);
  assert.equal(privately.status, 200);
  assert.deepEqual(await privately.json(), {
    id: '7',
    path: '/items/7',
    query: { x: '1' },
    apiOrigin: `${url}/_/private_api/${key}`,
  });
  const second = await fetch(`${url}/_/private_api/second-key-abcdefghij/items/8`, {
    method: 'PUT',
  });
  assert.equal(second.status, 200);
  assert.equal((await fetch(`${url}/_/api/items/7`)).status, 200, 'still public too');
  // Policies hold on the private path as well.
  await expectError(
    await fetch(`${url}/_/private_api/${key}/guarded`),
    401,
    'SB_ERR_AUTH_REQUIRED',
  );

  const unknownPath = await fetch(`${url}/_/private_api/${key}/nothing-here`);
  const reference = await expectError(unknownPath, 404, 'SB_ERR_HTTP_NOT_FOUND');
  for (const wrong of [
    `${url}/_/private_api/wrong-key-0123456789/items/7`,
    `${url}/_/private_api/${key}x/items/7`,
    `${url}/_/private_api/${key.slice(0, -1)}/items/7`,
    `${url}/_/private_api/`,
    `${url}/_/private_api/${key}`.replace('private-key', 'Private-key') + '/items/7',
  ]) {
    const answer = await fetch(wrong);
    assert.equal(answer.status, 404, wrong);
    assert.deepEqual(await errorOf(answer), reference, `same answer as an unknown path: ${wrong}`);
  }
  const wrongPut = await fetch(`${url}/_/private_api/wrong-key-0123456789/items/7`, {
    method: 'PUT',
  });
  assert.deepEqual(await expectError(wrongPut, 404, 'SB_ERR_HTTP_NOT_FOUND'), reference);

  // Without keys configured there is no private API at all.
  const plain = await startServer(t);
  plain.sb.httpEndpoint('/items/:id', {}, () => 'x');
  await expectError(
    await fetch(`${plain.url}/_/private_api/${key}/items/7`),
    404,
    'SB_ERR_HTTP_NOT_FOUND',
  );
  await assert.rejects(
    startServer(t, { privateApiKeys: ['short'] }),
    (error: unknown) =>
      error instanceof SwitchboardError && error.code === 'SB_ERR_OPTIONS_INVALID',
  );
});

test('CORS: true answers *, an origin string only that origin, alternate origins are echoed with credentials; preflight', async (t) => {
  const { sb, url } = await startServer(t, { alternateOrigins: ['https://front.example.com'] });
  sb.httpEndpoint('/any', { enableCors: true, methods: ['GET', 'PUT'] }, () => 'any');
  sb.httpEndpoint('/one', { enableCors: 'https://app.example.com' }, () => 'one');
  sb.httpEndpoint('/none', { methods: ['GET', 'DELETE'] }, () => 'none');
  sb.httpEndpoint('/guarded', { enableCors: true, requireCredentials: true }, () => 'g');
  const api = `${url}/_/api`;
  const get = (path: string, origin?: string) =>
    fetch(`${api}${path}`, { headers: origin === undefined ? {} : { origin } });

  const any = await get('/any', 'https://elsewhere.example');
  assert.equal(any.status, 200);
  assert.equal(any.headers.get('access-control-allow-origin'), '*');
  assert.equal(any.headers.get('access-control-allow-credentials'), null);

  const one = await get('/one', 'https://app.example.com');
  assert.equal(one.headers.get('access-control-allow-origin'), 'https://app.example.com');
  assert.equal(one.headers.get('access-control-allow-credentials'), 'true');
  assert.match(one.headers.get('vary') ?? '', /origin/i);
  // The handler's own Vary is kept next to the door's (caches must key on the origin).
  sb.httpEndpoint(
    '/one-vary',
    { enableCors: 'https://app.example.com' },
    () => new HttpResponse(200, 'v', { Vary: 'Accept-Language' }),
  );
  const vary = await get('/one-vary', 'https://app.example.com');
  assert.equal(vary.headers.get('vary'), 'Origin, Accept-Language');
  assert.equal(vary.headers.get('access-control-allow-origin'), 'https://app.example.com');
  const notOne = await get('/one', 'https://evil.example');
  assert.equal(notOne.status, 200, 'CORS is the browser’s to enforce; the request is served');
  assert.equal(notOne.headers.get('access-control-allow-origin'), null);
  assert.match(notOne.headers.get('vary') ?? '', /origin/i);

  const none = await get('/none', 'https://elsewhere.example');
  assert.equal(none.headers.get('access-control-allow-origin'), null);
  // A configured alternate origin is echoed, with credentials, on every endpoint.
  const alternate = await get('/none', 'https://front.example.com');
  assert.equal(alternate.headers.get('access-control-allow-origin'), 'https://front.example.com');
  assert.equal(alternate.headers.get('access-control-allow-credentials'), 'true');
  // Even an error answer carries the CORS headers, so the page can read it.
  const refused = await get('/guarded', 'https://elsewhere.example');
  assert.equal(refused.status, 401);
  assert.equal(refused.headers.get('access-control-allow-origin'), '*');

  const preflight = await fetch(`${api}/any`, {
    method: 'OPTIONS',
    headers: {
      origin: 'https://elsewhere.example',
      'access-control-request-method': 'PUT',
      'access-control-request-headers': 'content-type, x-token',
    },
  });
  assert.equal(preflight.status, 204);
  assert.equal(preflight.headers.get('allow'), 'GET, PUT, HEAD, OPTIONS');
  assert.equal(preflight.headers.get('access-control-allow-origin'), '*');
  assert.equal(preflight.headers.get('access-control-allow-methods'), 'GET, PUT, HEAD, OPTIONS');
  assert.equal(preflight.headers.get('access-control-allow-headers'), 'content-type, x-token');
  assert.ok(Number(preflight.headers.get('access-control-max-age')) > 0);

  const alternatePreflight = await fetch(`${api}/none`, {
    method: 'OPTIONS',
    headers: {
      origin: 'https://front.example.com',
      'access-control-request-method': 'DELETE',
      'access-control-request-headers': 'authorization',
    },
  });
  assert.equal(alternatePreflight.status, 204);
  assert.equal(
    alternatePreflight.headers.get('access-control-allow-origin'),
    'https://front.example.com',
  );
  assert.equal(alternatePreflight.headers.get('access-control-allow-credentials'), 'true');
  assert.equal(
    alternatePreflight.headers.get('access-control-allow-methods'),
    'GET, DELETE, HEAD, OPTIONS',
  );
  assert.equal(alternatePreflight.headers.get('access-control-allow-headers'), 'authorization');

  // Not allowed: still a 204 with Allow, but nothing a browser would accept.
  for (const [path, origin] of [
    ['/one', 'https://evil.example'],
    ['/none', 'https://evil.example'],
  ] as const) {
    const denied = await fetch(`${api}${path}`, {
      method: 'OPTIONS',
      headers: { origin, 'access-control-request-method': 'POST' },
    });
    assert.equal(denied.status, 204);
    assert.ok(denied.headers.get('allow'));
    assert.equal(denied.headers.get('access-control-allow-origin'), null, path);
    assert.equal(denied.headers.get('access-control-allow-methods'), null, path);
  }
});

test('endpoint options are validated, and every provider of a path must register the same policy', async (t) => {
  const { sb, url } = await startServer(t);
  const invalid = (error: unknown) =>
    error instanceof SwitchboardError && error.code === 'SB_ERR_OPTIONS_INVALID';
  for (const options of [
    { rateLimit: { max: 0, windowMs: 1000 } },
    { rateLimit: { max: 1 } },
    { enableCors: 'not an origin' },
    { enableCors: 'https://app.example.com/path' },
    { authenticateUsers: 'yes' },
    { authenticate_users: true },
  ]) {
    assert.throws(() => sb.httpEndpoint('/x', options as never, () => 1), invalid);
  }

  sb.httpEndpoint(
    '/shared',
    { authenticateUsers: true, rateLimit: { max: 5, windowMs: 1000 } },
    () => 'app',
  );
  const uplink = await connect({ url, key: SERVER_KEY });
  t.after(() => uplink.close());
  // Different options from another provider: refused; the path keeps its policy.
  uplink.httpEndpoint('/shared', { rateLimit: { max: 5, windowMs: 1000 } }, () => 'uplink');
  await assert.rejects(uplink.synced(), (error: unknown) => {
    assert.ok(error instanceof SwitchboardError);
    assert.equal(error.code, 'SB_ERR_ENDPOINT_CONFLICT');
    return true;
  });
  await expectError(await fetch(`${url}/_/api/shared`), 401, 'SB_ERR_AUTH_REQUIRED');
  // The same options (in any order, false flags omitted) are welcome.
  const again = await connect({ url, key: SERVER_KEY });
  t.after(() => again.close());
  again.httpEndpoint(
    '/shared',
    { rateLimit: { windowMs: 1000, max: 5 }, crossSiteSession: false, authenticateUsers: true },
    () => 'uplink',
  );
  await again.synced();
  // And app code is refused the other way round.
  sb.httpEndpoint('/from-uplink', { enableCors: true }, () => 'app');
  const third = await connect({ url, key: SERVER_KEY });
  t.after(() => third.close());
  third.httpEndpoint('/elsewhere', { enableCors: 'https://a.example' }, () => 'x');
  await third.synced();
  assert.throws(
    () => sb.httpEndpoint('/elsewhere', { enableCors: true }, () => 'x'),
    (error: unknown) =>
      error instanceof SwitchboardError && error.code === 'SB_ERR_ENDPOINT_CONFLICT',
  );
});

test('authenticateUsers on an endpoint served by a real uplink process: the user travels over the wire', async (t) => {
  const { sb, url } = await startServer(t);
  await sb.users.create({
    email: 'ada@example.com',
    password: 'ada password',
    data: { team: 'x' },
  });
  const child = spawnScript(t, 'test/fixtures/auth-uplink.ts', { SB_URL: url, SB_KEY: SERVER_KEY });
  await child.waitFor(/^ready /);
  const me = `${url}/_/api/child/me`;

  const ok = await fetch(me, {
    headers: { authorization: basic('ada@example.com', 'ada password') },
  });
  assert.equal(ok.status, 200);
  const body = (await ok.json()) as { user: Json; username: string };
  assert.equal(body.username, 'ada@example.com');
  assert.equal(body.user.email, 'ada@example.com');
  assert.deepEqual(body.user.data, { team: 'x' });
  assert.ok(!('passwordHash' in body.user) && !('password_hash' in body.user));
  await expectError(
    await fetch(me, { headers: { authorization: basic('ada@example.com', 'nope') } }),
    401,
    'SB_ERR_AUTH_FAILED',
  );
  const missing = await fetch(me);
  await expectError(missing, 401, 'SB_ERR_AUTH_REQUIRED');
  assert.equal(missing.headers.get('www-authenticate'), CHALLENGE);
});
