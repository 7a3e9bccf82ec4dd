import assert from 'node:assert/strict';
import { performance } from 'node:perf_hooks';
import { test, type TestContext } from 'node:test';
import type Database from 'better-sqlite3';
import { SwitchboardError, USER_FUNCTIONS, isReservedName } from '@switchboard/shared';
import { connect } from '@switchboard/uplink';
import { hashPassword, verifyPassword } from '../server/src/auth/password.ts';
import { openDatabase } from '../server/src/store/database.ts';
import { SessionStore } from '../server/src/store/session-store.ts';
import { UserStore } from '../server/src/store/user-store.ts';
import { runCli } from './helpers/cli.ts';
import { helloClient } from './helpers/raw-client.ts';
import { CLIENT_KEY, SERVER_KEY, makeDataDir, startServer } from './helpers/server.ts';

/** A UserStore over a real SQLite file in a fresh data folder, closed when the test ends. */
async function openStore(t: TestContext): Promise<{ users: UserStore; db: Database.Database }> {
  const db = openDatabase(await makeDataDir(t));
  t.after(() => db.close());
  return { users: new UserStore(db), db };
}

function storedHashes(db: Database.Database): string[] {
  const rows = db.prepare('SELECT password_hash FROM users').all() as Array<{
    password_hash: string;
  }>;
  return rows.map((row) => row.password_hash);
}

test('a password hash carries its scrypt parameters and salt, and verifies only its password', async () => {
  const hash = await hashPassword('correct horse');
  const match = /^scrypt\$ln=(\d+),r=(\d+),p=(\d+)\$([A-Za-z0-9+/=]+)\$([A-Za-z0-9+/=]+)$/.exec(
    hash,
  );
  assert.ok(match, hash);
  assert.ok(Number(match[1]) >= 14 && Number(match[2]) >= 8 && Number(match[3]) >= 1);
  assert.equal(Buffer.from(match[4]!, 'base64').length, 16);
  assert.equal(Buffer.from(match[5]!, 'base64').length, 32);
  assert.ok(!hash.includes('correct horse'));
  assert.notEqual(await hashPassword('correct horse'), hash, 'a fresh salt every time');
  assert.equal(await verifyPassword('correct horse', hash), true);
  assert.equal(await verifyPassword('correct horsE', hash), false);
  assert.equal(await verifyPassword('correct horse', 'scrypt$ln=99,r=8,p=1$AAAA$AAAA'), false);
  assert.equal(await verifyPassword('correct horse', 'not a hash'), false);
  // Parameters are read from the string, so a hash made with other ones still verifies.
  const lighter = hash.replace('ln=14,', 'ln=10,');
  assert.equal(await verifyPassword('correct horse', lighter), false);
});

test('create, find, list, update and remove users; the hash is never handed out', async (t) => {
  const { users, db } = await openStore(t);
  const before = Date.now();
  const ada = await users.create({
    email: '  Ada@Example.com ',
    password: 'password one',
    data: { role: 'admin', tags: ['a', 1, null, { x: true }] },
  });
  assert.deepEqual(ada, {
    id: ada.id,
    email: 'Ada@Example.com',
    enabled: true,
    createdAt: ada.createdAt,
    lastLoginAt: null,
    data: { role: 'admin', tags: ['a', 1, null, { x: true }] },
  });
  assert.ok(ada.createdAt >= before && ada.createdAt <= Date.now());
  const bob = await users.create({
    email: 'bob@example.com',
    password: 'bob password',
    enabled: false,
  });
  assert.equal(bob.enabled, false);
  assert.deepEqual(bob.data, {});

  assert.deepEqual(users.find('ADA@example.COM'), ada);
  assert.deepEqual(users.find(ada.id), ada);
  assert.equal(users.find('nobody@example.com'), undefined);
  assert.equal(users.find(9999), undefined);
  assert.deepEqual(
    users.list().map((user) => user.email),
    ['Ada@Example.com', 'bob@example.com'],
  );

  const renamed = await users.update('ada@example.com', {
    email: 'ada@example.org',
    enabled: false,
    data: { role: 'owner' },
  });
  assert.deepEqual(renamed, {
    ...ada,
    email: 'ada@example.org',
    enabled: false,
    data: { role: 'owner' },
  });
  const [hashBefore] = storedHashes(db);
  await users.update(ada.id, { password: 'password two' });
  assert.notEqual(storedHashes(db)[0], hashBefore);
  assert.equal((await users.update(ada.id, { enabled: true })).enabled, true);
  assert.equal((await users.verify('ada@example.org', 'password one')).kind, 'invalid');
  assert.equal((await users.verify('ada@example.org', 'password two')).kind, 'ok');

  await assert.rejects(users.update('nobody@example.com', { enabled: true }), {
    code: 'SB_ERR_NO_SUCH_USER',
  });
  await assert.rejects(users.update(ada.id, { email: 'BOB@example.com' }), {
    code: 'SB_ERR_USER_EXISTS',
  });

  const everything = JSON.stringify([users.list(), users.find(ada.id), renamed, bob]);
  for (const hash of storedHashes(db)) assert.ok(!everything.includes(hash));
  assert.ok(!everything.includes('scrypt$'));
  assert.ok(!everything.includes('password'));

  assert.equal(users.remove('BOB@example.com'), true);
  assert.equal(users.remove('bob@example.com'), false);
  assert.equal(users.remove(ada.id), true);
  assert.deepEqual(users.list(), []);
});

test('login names are unique case-insensitively', async (t) => {
  const { users } = await openStore(t);
  await users.create({ email: 'carol@example.com', password: 'carol password' });
  await assert.rejects(users.create({ email: 'CAROL@Example.Com', password: 'other password' }), {
    code: 'SB_ERR_USER_EXISTS',
  });
  await assert.rejects(users.create({ email: ' carol@example.com ', password: 'other password' }), {
    code: 'SB_ERR_USER_EXISTS',
  });
  assert.equal(users.list().length, 1);
});

test('invalid login names, passwords and data are refused with SB_ERR_USER_INVALID', async (t) => {
  const { users } = await openStore(t);
  const cyclic: Record<string, unknown> = {};
  cyclic.self = cyclic;
  const bad: unknown[] = [
    { email: 'no-at-sign', password: 'password' },
    { email: 'a@', password: 'password' },
    { email: 'has space@example.com', password: 'password' },
    { email: '@@', password: 'password' },
    { email: `${'a'.repeat(250)}@b.co`, password: 'password' },
    { email: 42, password: 'password' },
    { password: 'password' },
    { email: 'ok@example.com' },
    { email: 'ok@example.com', password: '' },
    { email: 'ok@example.com', password: 'seven77' },
    { email: 'ok@example.com', password: '\u{1F511}'.repeat(7) },
    { email: 'ok@example.com', password: 'x'.repeat(1025) },
    { email: 'ok@example.com', password: 123 },
    { email: 'ok@example.com', password: 'password', enabled: 'yes' },
    { email: 'ok@example.com', password: 'password', data: [] },
    { email: 'ok@example.com', password: 'password', data: 'text' },
    { email: 'ok@example.com', password: 'password', data: { when: new Date() } },
    { email: 'ok@example.com', password: 'password', data: { missing: undefined } },
    { email: 'ok@example.com', password: 'password', data: { big: 1n } },
    { email: 'ok@example.com', password: 'password', data: { n: Number.NaN } },
    { email: 'ok@example.com', password: 'password', data: cyclic },
    { email: 'ok@example.com', password: 'password', data: { blob: 'x'.repeat(64 * 1024) } },
    { email: 'ok@example.com', password: 'password', role: 'admin' },
    'ok@example.com',
    null,
  ];
  for (const input of bad) {
    const shown = typeof input === 'object' && input !== null ? Object.keys(input) : input;
    await assert.rejects(
      users.create(input as never),
      { code: 'SB_ERR_USER_INVALID' },
      `${JSON.stringify(shown)} ${String((input as { email?: unknown } | null)?.email)}`,
    );
  }
  assert.deepEqual(users.list(), []);
  // The limits themselves are fine: no strength rules beyond length.
  await users.create({ email: 'a@b', password: 'x'.repeat(8) });
  await users.create({ email: 'key@b', password: '\u{1F511}'.repeat(8) }); // 8 characters
  await users.create({ email: 'long@example.com', password: 'x'.repeat(1024) });
  const user = await users.create({ email: 'data@example.com', password: 'password', data: {} });
  await assert.rejects(users.update(user.id, { data: [] as never }), {
    code: 'SB_ERR_USER_INVALID',
  });
  await assert.rejects(users.update(user.id, { password: '' }), { code: 'SB_ERR_USER_INVALID' });
  await assert.rejects(users.update(user.id, { password: 'seven77' }), {
    code: 'SB_ERR_USER_INVALID',
  });
  await assert.rejects(users.update(user.id, { passwd: 'p' } as never), {
    code: 'SB_ERR_USER_INVALID',
  });
});

test('verify: ok sets the last login, disabled only with the right password, otherwise invalid', async (t) => {
  const { users } = await openStore(t);
  const dan = await users.create({ email: 'dan@example.com', password: 's3cret-pass' });
  await users.create({ email: 'eve@example.com', password: 'other password', enabled: false });

  const before = Date.now();
  const ok = await users.verify('DAN@example.com', 's3cret-pass');
  assert.equal(ok.kind, 'ok');
  assert.ok(ok.kind === 'ok' && ok.user.id === dan.id);
  const lastLoginAt = users.find(dan.id)?.lastLoginAt;
  assert.ok(typeof lastLoginAt === 'number' && lastLoginAt >= before, String(lastLoginAt));
  assert.ok(ok.kind === 'ok' && ok.user.lastLoginAt === lastLoginAt);

  assert.deepEqual(await users.verify('dan@example.com', 'wrong'), { kind: 'invalid' });
  assert.deepEqual(await users.verify('nobody@example.com', 's3cret-pass'), { kind: 'invalid' });
  assert.deepEqual(await users.verify('eve@example.com', 'wrong'), { kind: 'invalid' });
  const disabled = await users.verify('eve@example.com', 'other password');
  assert.equal(disabled.kind, 'disabled');
  assert.ok(disabled.kind === 'disabled' && disabled.user.email === 'eve@example.com');
  assert.equal(users.find('eve@example.com')?.lastLoginAt, null);
  assert.deepEqual(await users.verify('dan@example.com', ''), { kind: 'invalid' });
  assert.deepEqual(await users.verify(42 as never, 's3cret-pass'), { kind: 'invalid' });
  assert.ok(!JSON.stringify([ok, disabled]).includes('scrypt$'));

  // An unknown name still costs a scrypt (the dummy hash is already computed by now).
  const started = performance.now();
  await users.verify('nobody@example.com', 'whatever');
  assert.ok(performance.now() - started >= 5, 'an unknown login name spends a hash');
});

test('the CLI adds, lists, changes passwords of, disables and removes users', async (t) => {
  const dataDir = await makeDataDir(t);
  const run = (args: string[], stdin?: string) => runCli(t, dataDir, args, stdin);

  const added = await run(['users', 'add', 'fay@example.com', '--password', 'first password']);
  assert.equal(added.code, 0, added.err);
  assert.match(added.out, /Created user fay@example\.com \(id 1\)/);
  const piped = await run(
    ['users', 'add', 'gus@example.com', '--disabled', '--data', '{"team":"ops"}'],
    'from stdin pw\nsecond line ignored\n',
  );
  assert.equal(piped.code, 0, piped.err);

  const duplicate = await run(['users', 'add', 'FAY@example.com', '--password', 'long enough']);
  assert.equal(duplicate.code, 1);
  assert.match(duplicate.err, /SB_ERR_USER_EXISTS/);
  const invalid = await run(['users', 'add', 'not-an-email', '--password', 'long enough']);
  assert.equal(invalid.code, 1);
  assert.match(invalid.err, /SB_ERR_USER_INVALID/);
  const badData = await run(['users', 'add', 'h@example.com', '--password', 'x', '--data', '[1']);
  assert.equal(badData.code, 1);
  assert.match(badData.err, /SB_ERR_USER_INVALID/);
  const short = await run(['users', 'add', 'short@example.com', '--password', 'seven77']);
  assert.equal(short.code, 1);
  assert.match(short.err, /SB_ERR_USER_INVALID/);
  const shortPasswd = await run(['users', 'passwd', 'fay@example.com', '--password', 'seven77']);
  assert.equal(shortPasswd.code, 1);
  assert.match(shortPasswd.err, /SB_ERR_USER_INVALID/);
  // The server's setting, read from the environment by the CLI too.
  const relaxed = await runCli(
    t,
    dataDir,
    ['users', 'add', 'pin@example.com', '--password', '1234'],
    {
      env: { SWITCHBOARD_MIN_PASSWORD_LENGTH: '4' },
    },
  );
  assert.equal(relaxed.code, 0, relaxed.err);
  assert.equal((await run(['users', 'remove', 'pin@example.com'])).code, 0);
  const emptyStdin = await run(['users', 'add', 'h@example.com'], '');
  assert.equal(emptyStdin.code, 1);
  assert.match(emptyStdin.err, /SB_ERR_USER_INVALID/);

  const listed = await run(['users', 'list']);
  assert.equal(listed.code, 0, listed.err);
  const lines = listed.out.trimEnd().split('\n');
  assert.match(lines[0]!, /^id\s+email\s+enabled\s+created\s+last login$/);
  assert.match(lines[1]!, /^1\s+fay@example\.com\s+yes\s+\d{4}-\d\d-\d\dT\S+Z\s+never$/);
  assert.match(lines[2]!, /^2\s+gus@example\.com\s+no\s+\S+\s+never$/);
  assert.equal(lines.length, 3);

  const passwd = await run(['users', 'passwd', 'fay@example.com'], 'second password\n');
  assert.equal(passwd.code, 0, passwd.err);
  const missing = await run(['users', 'passwd', 'nobody@example.com', '--password', 'x']);
  assert.equal(missing.code, 1);
  assert.match(missing.err, /SB_ERR_NO_SUCH_USER/);
  assert.equal((await run(['users', 'enable', 'gus@example.com'])).code, 0);
  assert.equal((await run(['users', 'disable', 'FAY@example.com'])).code, 0);

  const db = openDatabase(dataDir);
  const users = new UserStore(db);
  try {
    assert.equal((await users.verify('gus@example.com', 'from stdin pw')).kind, 'ok');
    assert.deepEqual(users.find('gus@example.com')?.data, { team: 'ops' });
    assert.equal((await users.verify('fay@example.com', 'first password')).kind, 'invalid');
    assert.equal((await users.verify('fay@example.com', 'second password')).kind, 'disabled');
    const hashes = storedHashes(db);
    const after = await run(['users', 'list']);
    assert.match(after.out, /^1\s+fay@example\.com\s+no\s+\S+\s+never$/m);
    assert.match(after.out, /^2\s+gus@example\.com\s+yes\s+\S+\s+\d{4}-\S+Z$/m);
    const output = [added, piped, listed, passwd, after].map((r) => r.out + r.err).join('\n');
    for (const hash of hashes) assert.ok(!output.includes(hash), 'no hash in CLI output');
    assert.ok(!output.includes('scrypt$'));
  } finally {
    db.close();
  }

  assert.equal((await run(['users', 'remove', 'gus@example.com'])).code, 0);
  const gone = await run(['users', 'remove', 'gus@example.com']);
  assert.equal(gone.code, 1);
  assert.match(gone.err, /SB_ERR_NO_SUCH_USER/);
  assert.equal((await run(['users', 'bogus', 'x@y'])).code, 2); // usage mistakes
  assert.equal((await run(['users', 'add'])).code, 2);
  assert.equal((await run(['keys', 'create', 'still-works'])).code, 0);
});

test('app code and server-key uplinks manage users through switchboard.users and sb.users.*', async (t) => {
  const { sb, url } = await startServer(t);
  const uplink = await connect({ url, key: SERVER_KEY, reconnect: false });
  t.after(() => uplink.close());

  const created = await uplink.users.create({
    email: 'ivy@example.com',
    password: 'remote password',
    data: { plan: 'pro' },
  });
  assert.equal(created.email, 'ivy@example.com');
  assert.equal(created.enabled, true);
  assert.deepEqual(created.data, { plan: 'pro' });
  assert.deepEqual(sb.users.find('IVY@example.com'), created);
  assert.deepEqual(await uplink.users.find('Ivy@Example.com'), created);
  assert.deepEqual(await uplink.users.find(created.id), created);
  assert.equal(await uplink.users.find('nobody@example.com'), undefined);
  assert.equal(await uplink.call(USER_FUNCTIONS.find, 'nobody@example.com'), null);

  const updated = await uplink.users.update(created.id, {
    enabled: false,
    password: 'new password',
  });
  assert.equal(updated.enabled, false);
  assert.equal((await sb.users.verify('ivy@example.com', 'new password')).kind, 'disabled');
  assert.deepEqual(await uplink.users.list(), [updated]);
  assert.ok(!JSON.stringify([created, updated, await uplink.users.list()]).includes('scrypt$'));

  await assert.rejects(uplink.users.create({ email: 'IVY@example.com', password: 'long enough' }), {
    code: 'SB_ERR_USER_EXISTS',
  });
  await assert.rejects(uplink.users.create({ email: 'bad', password: 'long enough' }), {
    code: 'SB_ERR_USER_INVALID',
  });
  await assert.rejects(uplink.users.update('nobody@example.com', { enabled: true }), {
    code: 'SB_ERR_NO_SUCH_USER',
  });
  await assert.rejects(uplink.call(USER_FUNCTIONS.find, { not: 'a name' }), {
    code: 'SB_ERR_USER_INVALID',
  });

  // App code sees the same store, and calls the built-ins like any function.
  await sb.users.create({ email: 'jon@example.com', password: 'password' });
  assert.equal(((await sb.call(USER_FUNCTIONS.list)) as unknown[]).length, 2);

  assert.equal(await uplink.users.remove('ivy@example.com'), true);
  assert.equal(await uplink.users.remove('ivy@example.com'), false);
  assert.equal(sb.users.find('ivy@example.com'), undefined);

  // The built-ins are registered without allowClients: the dispatcher refuses client keys.
  const client = await connect({ url, key: CLIENT_KEY, reconnect: false });
  t.after(() => client.close());
  await assert.rejects(client.users.list(), { code: 'SB_ERR_NO_SUCH_FUNCTION' });
});

test('sb. names are reserved: callable refuses them and the server refuses their registration', async (t) => {
  const { sb, url, wsUrl } = await startServer(t);
  assert.equal(isReservedName('sb.users.create'), true);
  assert.equal(isReservedName('sbx'), false);
  assert.throws(() => sb.callable('sb.x', () => 1), { code: 'SB_ERR_NAME_INVALID' });
  assert.throws(() => sb.callable(USER_FUNCTIONS.create, () => 1), {
    code: 'SB_ERR_NAME_INVALID',
  });

  const uplink = await connect({ url, key: SERVER_KEY, reconnect: false });
  t.after(() => uplink.close());
  assert.throws(
    () => uplink.callable('sb.users.create', () => 1),
    (error: unknown) => {
      assert.ok(error instanceof SwitchboardError);
      assert.equal(error.code, 'SB_ERR_NAME_INVALID');
      return true;
    },
  );

  // A hand-written uplink that skips the client check: refused per registration, not closed.
  const raw = await helloClient(t, wsUrl, SERVER_KEY);
  for (const [id, name] of [
    [1, USER_FUNCTIONS.create],
    [2, 'sb.anything'],
  ] as const) {
    raw.send({ type: 'register', id, functions: [{ name: 'fine' }, { name }] });
    const answer = await raw.next();
    assert.equal(answer.type, 'error');
    assert.ok(answer.type === 'error' && answer.id === id);
    assert.equal(answer.type === 'error' && answer.error.code, 'SB_ERR_NAME_INVALID');
  }
  raw.send({ type: 'register', id: 3, functions: [{ name: 'fine' }] });
  assert.deepEqual(await raw.next(), { type: 'result', id: 3, value: { registered: 1 } });

  // The refused registrations changed nothing: the built-in still answers.
  await sb.users.create({ email: 'kim@example.com', password: 'password' });
  assert.equal(((await uplink.users.list()) as unknown[]).length, 1);
});

test('a new password signs the user out of every session; other changes do not', async (t) => {
  const { users, db } = await openStore(t);
  const sessions = new SessionStore(db, 60_000);
  const ada = await users.create({ email: 'ada@example.com', password: 'password one' });
  sessions.apply('s1', { set: { cart: [1] }, userId: ada.id });
  sessions.apply('s2', { userId: ada.id });
  await users.update(ada.id, { data: { plan: 'pro' }, enabled: true });
  assert.equal(sessions.load('s1')?.userId, ada.id);
  await users.update(ada.id, { password: 'password two' });
  assert.equal(sessions.load('s1')?.userId, null);
  assert.equal(sessions.load('s2')?.userId, null);
  assert.deepEqual(sessions.load('s1')?.data, { cart: [1] }, 'the session itself stays');
});
