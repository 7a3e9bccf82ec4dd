import assert from 'node:assert/strict';
import { test } from 'node:test';
import { SwitchboardError, getCallContext, type User } from '@switchboard/server';
import { connect } from '@switchboard/uplink';
import { spawnScript } from './helpers/child.ts';
import { basic, expectError, type Json } from './helpers/http-client.ts';
import { CLIENT_KEY, SERVER_KEY, startServer } from './helpers/server.ts';

const bearer = (key: string) => `Bearer ${key}`;

/** POST /_/call/<name> with JSON arguments; `authorization` omitted for anonymous calls. */
function callOver(url: string) {
  return (name: string, args: unknown[], authorization?: string) =>
    fetch(`${url}/_/call/${name}`, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        ...(authorization === undefined ? {} : { authorization }),
      },
      body: JSON.stringify(args),
    });
}

async function valueOf(response: Response): Promise<unknown> {
  const text = await response.text();
  assert.equal(response.status, 200, text);
  return JSON.parse(text) as unknown;
}

function isCode(code: string) {
  return (error: unknown) => {
    assert.ok(error instanceof SwitchboardError, String(error));
    assert.equal(error.code, code, error.message);
    return true;
  };
}

test('a client key is refused a server-only function; allowClients opens it; server keys and app code are trusted', async (t) => {
  const { sb, url } = await startServer(t);
  let secretRuns = 0;
  sb.callable('secret', () => {
    secretRuns++;
    return 'secret';
  });
  sb.callable('open', (a: number, b: number) => a + b, { allowClients: true });
  const call = callOver(url);

  // A function the caller may not call answers exactly like one that does not exist.
  const refused = await call('secret', [], bearer(CLIENT_KEY));
  await expectError(refused, 404, 'SB_ERR_NO_SUCH_FUNCTION');
  await expectError(await call('nope', [], bearer(CLIENT_KEY)), 404, 'SB_ERR_NO_SUCH_FUNCTION');
  assert.equal(secretRuns, 0, 'refused before the function runs');
  assert.equal(await valueOf(await call('open', [2, 3], bearer(CLIENT_KEY))), 5);
  assert.equal(await valueOf(await call('secret', [], bearer(SERVER_KEY))), 'secret');
  assert.equal(await sb.call('secret'), 'secret');

  // Anonymous HTTP: allowClients functions only; others do not exist for it.
  assert.equal(await valueOf(await call('open', [1, 1])), 2);
  const anonymous = await call('secret', []);
  const unknown = await call('nope', []);
  await expectError(anonymous, 404, 'SB_ERR_NO_SUCH_FUNCTION');
  await expectError(unknown, 404, 'SB_ERR_NO_SUCH_FUNCTION');
  // A signed-in user is a client too.
  await sb.users.create({ email: 'ada@example.com', password: 'ada password' });
  await expectError(
    await call('secret', [], basic('ada@example.com', 'ada password')),
    404,
    'SB_ERR_NO_SUCH_FUNCTION',
  );
  // Bad keys and headers are refused before any of that.
  await expectError(
    await call('open', [1, 1], bearer('sbk_c_nope-nope-nope-nope')),
    401,
    'SB_ERR_AUTH_BAD_KEY',
  );
  await expectError(await call('open', [1, 1], 'Digest abc'), 400, 'SB_ERR_HTTP_BAD_AUTH_HEADER');
  // `Token` is a user API token (issue 20): a wrong one is a failed sign-in.
  await expectError(await call('open', [1, 1], 'Token abc'), 401, 'SB_ERR_AUTH_FAILED');
  await expectError(await call('open', [1, 1], 'Basic ***'), 400, 'SB_ERR_HTTP_BAD_AUTH_HEADER');
  assert.equal(secretRuns, 2);
  // The built-in user functions are for server keys only.
  await expectError(
    await call(
      'sb.users.create',
      [{ email: 'mallory@example.com', password: 'x' }],
      bearer(CLIENT_KEY),
    ),
    404,
    'SB_ERR_NO_SUCH_FUNCTION',
  );
  await expectError(await call('sb.users.list', []), 404, 'SB_ERR_NO_SUCH_FUNCTION');
  assert.equal(sb.users.find('mallory@example.com'), undefined);

  // The same over the uplink protocol: a client-key uplink calling through the server.
  const client = await connect({ url, key: CLIENT_KEY });
  t.after(() => client.close());
  await assert.rejects(client.call('secret'), isCode('SB_ERR_NO_SUCH_FUNCTION'));
  assert.equal(await client.call('open', 20, 22), 42);
  const server = await connect({ url, key: SERVER_KEY });
  t.after(() => server.close());
  assert.equal(await server.call('secret'), 'secret');
  // requireUser alone does not open a function to clients.
  sb.callable('usersButNotClients', () => 'x', { requireUser: true });
  await expectError(
    await call('usersButNotClients', [], basic('ada@example.com', 'ada password')),
    404,
    'SB_ERR_NO_SUCH_FUNCTION',
  );
  await assert.rejects(client.call('usersButNotClients'), isCode('SB_ERR_NO_SUCH_FUNCTION'));
});

test('requireUser: true needs a signed-in user; a predicate decides per user; Basic sign-ins on /_/call are verified and throttled', async (t) => {
  const { sb, url } = await startServer(t, { signInThrottle: { max: 2, windowMs: 60_000 } });
  await sb.users.create({
    email: 'ada@example.com',
    password: 'ada password',
    data: { role: 'admin' },
  });
  await sb.users.create({
    email: 'bob@example.com',
    password: 'bob password',
    data: { role: 'user' },
  });
  await sb.users.create({ email: 'eve@example.com', password: 'eve password', enabled: false });
  const seen: string[] = [];
  sb.callable('mine', () => getCallContext().caller.user?.email ?? null, {
    allowClients: true,
    requireUser: true,
  });
  sb.callable(
    'adminOnly',
    (x: number) => {
      seen.push(getCallContext().caller.user?.email ?? 'trusted');
      return x * 2;
    },
    { allowClients: true, requireUser: (user: User) => user.data.role === 'admin' },
  );
  sb.callable('asyncCheck', () => 'passed', {
    allowClients: true,
    requireUser: async (user: User) => {
      await new Promise((resolve) => setTimeout(resolve, 5));
      return user.email.startsWith('bob');
    },
  });
  const call = callOver(url);
  const ada = basic('ada@example.com', 'ada password');
  const bob = basic('bob@example.com', 'bob password');

  assert.equal(await valueOf(await call('mine', [], ada)), 'ada@example.com');
  assert.equal(await valueOf(await call('mine', [], bob)), 'bob@example.com');
  await expectError(await call('mine', []), 401, 'SB_ERR_AUTH_REQUIRED');
  await expectError(await call('mine', [], bearer(CLIENT_KEY)), 401, 'SB_ERR_AUTH_REQUIRED');
  // Server keys and app code are trusted and skip the check (there is no user to see).
  assert.equal(await valueOf(await call('mine', [], bearer(SERVER_KEY))), null);
  assert.equal(await sb.call('mine'), null);

  assert.equal(await valueOf(await call('adminOnly', [21], ada)), 42);
  await expectError(await call('adminOnly', [1], bob), 403, 'SB_ERR_PERMISSION_DENIED');
  await expectError(await call('adminOnly', [1]), 401, 'SB_ERR_AUTH_REQUIRED');
  await expectError(await call('adminOnly', [1], bearer(CLIENT_KEY)), 401, 'SB_ERR_AUTH_REQUIRED');
  assert.equal(await valueOf(await call('adminOnly', [1], bearer(SERVER_KEY))), 2);
  assert.equal(await sb.call('adminOnly', 5), 10);
  assert.equal(await valueOf(await call('asyncCheck', [], bob)), 'passed');
  await expectError(await call('asyncCheck', [], ada), 403, 'SB_ERR_PERMISSION_DENIED');
  // The function body ran only for the admin and for trusted callers.
  assert.deepEqual(seen, ['ada@example.com', 'trusted', 'trusted']);

  await expectError(
    await call('mine', [], basic('eve@example.com', 'eve password')),
    403,
    'SB_ERR_USER_DISABLED',
  );
  // Wrong passwords: the same answer as an unknown name, then throttled per login name.
  const unknown = await expectError(
    await call('mine', [], basic('nobody@example.com', 'x')),
    401,
    'SB_ERR_AUTH_FAILED',
  );
  assert.deepEqual(
    await expectError(
      await call('mine', [], basic('bob@example.com', 'x')),
      401,
      'SB_ERR_AUTH_FAILED',
    ),
    unknown,
  );
  await expectError(
    await call('mine', [], basic('bob@example.com', 'y')),
    401,
    'SB_ERR_AUTH_FAILED',
  );
  const throttled = await call('mine', [], bob);
  await expectError(throttled, 429, 'SB_ERR_LOGIN_THROTTLED');
  assert.ok(Number(throttled.headers.get('retry-after')) >= 1);
  // The throttle is shared with endpoints: the name is throttled there too.
  sb.httpEndpoint('/me', { authenticateUsers: true }, (req) => req.user!.email);
  await expectError(
    await fetch(`${url}/_/api/me`, { headers: { authorization: bob } }),
    429,
    'SB_ERR_LOGIN_THROTTLED',
  );
  assert.equal(await valueOf(await call('mine', [], ada)), 'ada@example.com');
});

test('the function sees who calls: kind, key name and kind, user (never a hash)', async (t) => {
  const { sb, url } = await startServer(t);
  await sb.users.create({ email: 'ada@example.com', password: 'ada password' });
  sb.callable('caller', () => getCallContext().caller, { allowClients: true });
  const call = callOver(url);

  assert.deepEqual(await valueOf(await call('caller', [], bearer(CLIENT_KEY))), {
    kind: 'http',
    keyName: 'test-client',
    keyKind: 'client',
  });
  assert.deepEqual(await valueOf(await call('caller', [], bearer(SERVER_KEY))), {
    kind: 'http',
    keyName: 'test-server',
    keyKind: 'server',
  });
  assert.deepEqual(await valueOf(await call('caller', [])), { kind: 'http' });
  const asUser = (await valueOf(
    await call('caller', [], basic('ada@example.com', 'ada password')),
  )) as {
    kind: string;
    user: Json;
  };
  assert.equal(asUser.kind, 'http');
  assert.equal(asUser.user.email, 'ada@example.com');
  assert.deepEqual(Object.keys(asUser.user).sort(), [
    'createdAt',
    'data',
    'email',
    'enabled',
    'id',
    'lastLoginAt',
  ]);
  assert.deepEqual(await sb.call('caller'), { kind: 'app' });
  const client = await connect({ url, key: CLIENT_KEY, name: 'my-client' });
  t.after(() => client.close());
  const viaUplink = (await client.call('caller')) as Json;
  assert.equal(viaUplink.kind, 'uplink');
  assert.equal(viaUplink.keyName, 'test-client');
  assert.equal(viaUplink.keyKind, 'client');
  assert.equal(viaUplink.uplinkName, 'my-client');
  assert.equal(viaUplink.connectionId, client.connectionId);
});

test('every provider of a name must register the same permissions (SB_ERR_FUNCTION_CONFLICT)', async (t) => {
  const { sb, url } = await startServer(t);
  sb.callable('shared', () => 'app', { allowClients: true });

  const other = await connect({ url, key: SERVER_KEY });
  t.after(() => other.close());
  other.callable('shared', () => 'uplink'); // server-only: different
  await assert.rejects(other.synced(), isCode('SB_ERR_FUNCTION_CONFLICT'));
  // The name keeps its permissions and its provider.
  assert.equal(await valueOf(await callOver(url)('shared', [], bearer(CLIENT_KEY))), 'app');

  const same = await connect({ url, key: SERVER_KEY });
  t.after(() => same.close());
  same.callable('shared', () => 'uplink', { allowClients: true, requireUser: false });
  await same.synced();

  // requireUser: true and a predicate differ too; app code is refused at once.
  const third = await connect({ url, key: SERVER_KEY });
  t.after(() => third.close());
  third.callable('guarded', () => 1, { allowClients: true, requireUser: true });
  await third.synced();
  assert.throws(
    () => sb.callable('guarded', () => 2, { allowClients: true, requireUser: () => true }),
    isCode('SB_ERR_FUNCTION_CONFLICT'),
  );
  assert.throws(() => sb.callable('guarded', () => 2), isCode('SB_ERR_FUNCTION_CONFLICT'));
  sb.callable('guarded', () => 2, { allowClients: true, requireUser: true }); // the same: fine
  // Once the other providers are gone, the name may be registered afresh with other rules.
  await third.close();
  await other.close();
  await same.close();
  assert.throws(
    () => sb.callable('other-name', () => 1, { allowClients: 'yes' as never }),
    isCode('SB_ERR_OPTIONS_INVALID'),
  );
});

test('call permissions with functions served by a real uplink process', async (t) => {
  const { sb, url } = await startServer(t);
  await sb.users.create({
    email: 'ada@example.com',
    password: 'ada password',
    data: { role: 'admin' },
  });
  await sb.users.create({ email: 'bob@example.com', password: 'bob password' });
  const child = spawnScript(t, 'test/fixtures/auth-uplink.ts', { SB_URL: url, SB_KEY: SERVER_KEY });
  await child.waitFor(/^ready /);
  const call = callOver(url);
  const ada = basic('ada@example.com', 'ada password');
  const bob = basic('bob@example.com', 'bob password');

  await expectError(
    await call('child.secret', [], bearer(CLIENT_KEY)),
    404,
    'SB_ERR_NO_SUCH_FUNCTION',
  );
  await expectError(await call('child.secret', []), 404, 'SB_ERR_NO_SUCH_FUNCTION');
  assert.equal(await valueOf(await call('child.secret', [], bearer(SERVER_KEY))), 'secret');
  assert.equal(await sb.call('child.secret'), 'secret');
  assert.equal(await valueOf(await call('child.open', [2, 3], bearer(CLIENT_KEY))), 5);
  assert.equal(await valueOf(await call('child.open', [2, 3])), 5);

  assert.equal(await valueOf(await call('child.userOnly', [], bob)), 'bob@example.com');
  await expectError(await call('child.userOnly', []), 401, 'SB_ERR_AUTH_REQUIRED');
  // The predicate runs in the child, on the user the server sent with the call.
  assert.equal(await valueOf(await call('child.admins', [], ada)), 'admin ada@example.com');
  await expectError(await call('child.admins', [], bob), 403, 'SB_ERR_PERMISSION_DENIED');
  await expectError(
    await call('child.admins', [], bearer(CLIENT_KEY)),
    401,
    'SB_ERR_AUTH_REQUIRED',
  );

  const caller = (await valueOf(await call('child.caller', [], ada))) as {
    kind: string;
    user: Json;
  };
  assert.equal(caller.kind, 'http');
  assert.equal(caller.user.email, 'ada@example.com');
  assert.ok(!JSON.stringify(caller).includes('scrypt'));

  // A client-key uplink calling into the child through the server.
  const client = await connect({ url, key: CLIENT_KEY });
  t.after(() => client.close());
  await assert.rejects(client.call('child.secret'), isCode('SB_ERR_NO_SUCH_FUNCTION'));
  await assert.rejects(client.call('child.userOnly'), isCode('SB_ERR_AUTH_REQUIRED'));
  assert.equal(await client.call('child.open', 1, 2), 3);

  // A second process registering one of its names with other permissions is refused.
  const conflicting = spawnScript(t, 'test/fixtures/auth-uplink.ts', {
    SB_URL: url,
    SB_KEY: SERVER_KEY,
    SB_VARIANT: 'conflict',
  });
  await conflicting.waitFor(/^refused SB_ERR_FUNCTION_CONFLICT$/);
  assert.equal(await valueOf(await call('child.open', [4, 4], bearer(CLIENT_KEY))), 8);
});
