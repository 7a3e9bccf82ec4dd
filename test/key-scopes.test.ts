import assert from 'node:assert/strict';
import { chmod, mkdir, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { test, type TestContext } from 'node:test';
import { Writable } from 'node:stream';
import Database from 'better-sqlite3';
import { createSwitchboard } from '@switchboard/server';
import { endpointShape, type ServerToUplinkFrame } from '@switchboard/shared';
import { EndpointTable } from '../server/src/catalog/endpoint-table.ts';
import { InProcessProvider } from '../server/src/hub/in-process-provider.ts';
import { ProviderRegistrations } from '../server/src/catalog/provider-registrations.ts';
import { functionRegistry } from '../server/src/catalog/registry.ts';
import { SCHEMA_VERSION, openDatabase } from '../server/src/store/database.ts';
import { KeyStore } from '../server/src/store/key-store.ts';
import { jsonOf, startAdminServer } from './helpers/admin.ts';
import { runCli } from './helpers/cli.ts';
import { expectError } from './helpers/http-client.ts';
import { helloClient, type RawClient } from './helpers/raw-client.ts';
import { SERVER_KEY, makeDataDir, startServer } from './helpers/server.ts';

const GPU_KEY = 'sbk_s_test-gpu-scoped-key-0123456789';

/** Sends a register frame and returns the answer for its id. */
async function register(
  client: RawClient,
  id: number,
  functions: string[],
  endpoints: string[] = [],
): Promise<ServerToUplinkFrame> {
  client.send({
    type: 'register',
    id,
    functions: functions.map((name) => ({ name })),
    endpoints: endpoints.map((path) => ({ path, methods: ['GET'] })),
  });
  return client.next();
}

function refusal(frame: ServerToUplinkFrame): { code: string; message: string; data?: unknown } {
  if (frame.type !== 'error') assert.fail(`expected an error frame, got ${JSON.stringify(frame)}`);
  return frame.error;
}

test('a scoped server key registers only what its patterns allow; anything else refuses the whole frame, connection kept', async (t) => {
  const { sb, wsUrl } = await startServer(t);
  const scoped = sb.keys.create('gpu-box', 'server', {
    functions: 'gpu.*, ocr',
    endpoints: ['/gpu/*', '/status'],
  });
  assert.deepEqual(scoped.record.scope, {
    functions: ['gpu.*', 'ocr'],
    endpoints: ['/gpu/*', '/status'],
  });
  const gpu = await helloClient(t, wsUrl, scoped.key);

  assert.deepEqual(await register(gpu, 1, ['gpu.run', 'gpu.x.y', 'ocr'], ['/gpu/:id', '/status']), {
    type: 'result',
    id: 1,
    value: { registered: 5 },
  });

  // One item outside the scope: nothing of the frame is registered, each refused item named.
  const denied = refusal(
    await register(gpu, 2, ['gpu.other', 'admin.reset', 'ocr2'], ['/gpu/ok', '/login', '/gpu']),
  );
  assert.equal(denied.code, 'SB_ERR_PERMISSION_DENIED');
  assert.deepEqual(denied.data, {
    functions: ['admin.reset', 'ocr2'],
    endpoints: ['/login', '/gpu'],
  });
  assert.match(denied.message, /"admin\.reset".*"\/login"/);
  assert.equal(sb.app.switchboard.registry.has('gpu.other'), false, 'all or nothing');
  assert.deepEqual(
    sb.app.switchboard.endpoints
      .live()
      .map((endpoint) => endpoint.pattern)
      .sort(),
    ['/gpu/:id', '/status'],
  );

  // The connection stays open and usable.
  assert.deepEqual(await register(gpu, 3, ['gpu.other']), {
    type: 'result',
    id: 3,
    value: { registered: 1 },
  });
  assert.equal(sb.app.switchboard.registry.has('gpu.other'), true);
});

test('a name served under an unscoped key cannot be joined by a key not allowed it', async (t) => {
  const { sb, wsUrl } = await startServer(t);
  const root = await helloClient(t, wsUrl, SERVER_KEY); // provisioned, unscoped
  assert.equal((await register(root, 1, ['billing.charge'], ['/pay'])).type, 'result');

  const narrow = sb.keys.create('narrow', 'server', { functions: 'gpu.*' });
  const intruder = await helloClient(t, wsUrl, narrow.key);
  for (const [id, functions, endpoints] of [
    [1, ['billing.charge'], []],
    [2, [], ['/pay']],
    [3, ['gpu.ok'], ['/gpu/x']], // --functions only: no endpoints at all
  ] as const) {
    assert.equal(
      refusal(await register(intruder, id, [...functions], [...endpoints])).code,
      'SB_ERR_PERMISSION_DENIED',
    );
  }
  const view = sb.app.switchboard.registry.providersOf('billing.charge');
  assert.equal(view.length, 1, 'still served by the unscoped uplink alone');
  assert.equal(sb.app.switchboard.endpoints.list()[0]?.providers.length, 1);
});

test('keys provisioned through options carry a scope; bad scopes and duplicate names are option errors', async (t) => {
  const { sb, wsUrl } = await startServer(t, {
    keys: [{ name: 'ocr-box', key: GPU_KEY, kind: 'server', functions: ['ocr.*'] }],
  });
  assert.deepEqual(sb.keys.list().find((key) => key.name === 'ocr-box')?.scope, {
    functions: ['ocr.*'],
    endpoints: [],
  });
  const client = await helloClient(t, wsUrl, GPU_KEY);
  assert.equal((await register(client, 1, ['ocr.page'])).type, 'result');
  assert.equal(refusal(await register(client, 2, ['other'])).code, 'SB_ERR_PERMISSION_DENIED');
  // The name of a provisioned key is taken too.
  assert.throws(() => sb.keys.create('ocr-box', 'server'), { code: 'SB_ERR_KEY_EXISTS' });

  const dataDir = await makeDataDir(t);
  for (const keys of [
    [{ name: 'c', key: GPU_KEY, kind: 'client' as const, functions: ['x'] }],
    [{ name: 's', key: GPU_KEY, kind: 'server' as const, endpoints: ['/a*b'] }],
    [
      { name: 'twin', key: GPU_KEY, kind: 'server' as const },
      { name: 'twin', key: `${GPU_KEY}-2`, kind: 'server' as const },
    ],
  ]) {
    assert.throws(() => createSwitchboard({ dataDir, keys }), { code: 'SB_ERR_OPTIONS_INVALID' });
  }
});

test('scope patterns: exact names or prefixes ending in *; anything else is SB_ERR_KEY_INVALID', async (t) => {
  const db = openDatabase(await makeDataDir(t));
  t.after(() => db.close());
  const keys = new KeyStore(db);
  const everything = keys.create('everything', 'server', { functions: '*', endpoints: '/*' });
  assert.deepEqual(everything.record.scope, { functions: ['*'], endpoints: ['/*'] });
  assert.equal(keys.create('plain', 'server').record.scope, null, 'unscoped by default');
  for (const scope of [
    { functions: 'a*b' },
    { functions: 'bad name' },
    { functions: '.x*' },
    { endpoints: 'no-slash' },
    { endpoints: '/a*/b' },
    { endpoints: '/a b/*' },
    { functions: Array.from({ length: 101 }, (_, i) => `f${i}`) },
    { functions: [42] as never },
  ]) {
    assert.throws(() => keys.create('bad', 'server', scope), { code: 'SB_ERR_KEY_INVALID' });
  }
  assert.throws(() => keys.create('c', 'client', { functions: 'x' }), {
    code: 'SB_ERR_KEY_INVALID',
  });
  // Stored and read back.
  keys.create('stored', 'server', { functions: 'gpu.*', endpoints: '' });
  assert.deepEqual(new KeyStore(db).list().find((key) => key.name === 'stored')?.scope, {
    functions: ['gpu.*'],
    endpoints: [],
  });
});

test('duplicate key names are refused (SB_ERR_KEY_EXISTS) until the first is revoked', async (t) => {
  const db = openDatabase(await makeDataDir(t));
  t.after(() => db.close());
  const keys = new KeyStore(db);
  const first = keys.create('gpu-box', 'server');
  assert.throws(() => keys.create(' gpu-box ', 'client'), { code: 'SB_ERR_KEY_EXISTS' });
  assert.equal(keys.list().length, 1);
  keys.revoke('gpu-box');
  const second = keys.create('gpu-box', 'server');
  assert.notEqual(second.record.id, first.record.id);
});

/** The keys table as the first released schema made it (migrations 1–3, no scope column). */
function oldDatabase(dataDir: string): Database.Database {
  const db = new Database(path.join(dataDir, 'switchboard.db'));
  db.exec(`CREATE TABLE keys (
     id TEXT PRIMARY KEY,
     name TEXT NOT NULL,
     kind TEXT NOT NULL CHECK (kind IN ('server', 'client')),
     hash TEXT NOT NULL UNIQUE,
     created_at INTEGER NOT NULL,
     revoked_at INTEGER
   );
   CREATE TABLE users (
     id INTEGER PRIMARY KEY,
     email TEXT NOT NULL UNIQUE COLLATE NOCASE,
     password_hash TEXT NOT NULL,
     enabled INTEGER NOT NULL DEFAULT 1,
     created_at INTEGER NOT NULL,
     last_login_at INTEGER,
     data TEXT NOT NULL DEFAULT '{}'
   );
   CREATE TABLE sessions (
     id TEXT PRIMARY KEY,
     data BLOB NOT NULL,
     user_id INTEGER REFERENCES users (id) ON DELETE SET NULL,
     expires_at INTEGER NOT NULL
   );
   CREATE INDEX sessions_expires_at ON sessions (expires_at);
   CREATE TABLE admin_tokens (
     id TEXT PRIMARY KEY,
     name TEXT NOT NULL,
     hash TEXT NOT NULL UNIQUE,
     created_at INTEGER NOT NULL,
     last_used_at INTEGER,
     revoked_at INTEGER
   );
   CREATE UNIQUE INDEX admin_tokens_active_name ON admin_tokens (name) WHERE revoked_at IS NULL;
   PRAGMA user_version = 3;`);
  return db;
}

test('an old database is migrated: its keys stay unscoped; duplicate names make revoke by name refuse and ask for the id', async (t) => {
  const dataDir = await makeDataDir(t);
  const old = oldDatabase(dataDir);
  // Two keys the old code let share a name; the hashes of known secrets, so they can connect.
  const { createHash } = await import('node:crypto');
  const hash = (key: string) => createHash('sha256').update(key).digest('hex');
  const secrets = ['sbk_s_old-one-0123456789abcdef', 'sbk_s_old-two-0123456789abcdef'];
  const insert = old.prepare(
    'INSERT INTO keys (id, name, kind, hash, created_at) VALUES (?, ?, ?, ?, ?)',
  );
  insert.run('id-one', 'gpu-box', 'server', hash(secrets[0]!), 1);
  insert.run('id-two', 'gpu-box', 'server', hash(secrets[1]!), 2);
  old.close();

  const ambiguous = await runCli(t, dataDir, ['keys', 'revoke', 'gpu-box']);
  assert.equal(ambiguous.code, 1);
  assert.match(ambiguous.err, /SB_ERR_KEY_AMBIGUOUS: .*id-one, id-two/);
  const listed = await runCli(t, dataDir, ['keys', 'list']);
  assert.match(listed.out, /^id +name +kind +scope +created +state$/m);
  assert.equal(listed.out.match(/^id-\w+ +gpu-box +server +all +\S+ +active$/gm)?.length, 2);

  const db = new Database(path.join(dataDir, 'switchboard.db'), { readonly: true });
  assert.equal(db.pragma('user_version', { simple: true }), SCHEMA_VERSION);
  assert.deepEqual(db.prepare('SELECT id, scope FROM keys ORDER BY id').all(), [
    { id: 'id-one', scope: null },
    { id: 'id-two', scope: null },
  ]);
  db.close();

  // Still unscoped: a migrated key registers anything.
  const { wsUrl } = await startServer(t, { dataDir, keys: [] });
  const client = await helloClient(t, wsUrl, secrets[0]!);
  assert.equal((await register(client, 1, ['anything'], ['/anywhere'])).type, 'result');

  const byId = await runCli(t, dataDir, ['keys', 'revoke', 'id-one']);
  assert.equal(byId.code, 0, byId.err);
  // One active key left with the name: now the name is enough, and a new one is refused.
  assert.equal((await runCli(t, dataDir, ['keys', 'create', 'gpu-box'])).code, 1);
  assert.equal((await runCli(t, dataDir, ['keys', 'revoke', 'gpu-box'])).code, 0);
});

test('CLI: keys create takes --functions and --endpoints, keys list shows the scope, a taken name exits 1', async (t) => {
  const dataDir = await makeDataDir(t);
  const run = (...args: string[]) => runCli(t, dataDir, args);
  const created = await run(
    'keys',
    'create',
    'gpu-box',
    '--functions',
    'gpu.*,ocr',
    '--endpoints',
    '/gpu/*',
  );
  assert.equal(created.code, 0, created.err);
  assert.match(created.out, /may register: functions gpu\.\*,ocr; endpoints \/gpu\/\*/);
  const secret = /^(sbk_s_\S+)$/m.exec(created.out)?.[1];
  assert.ok(secret);

  const again = await run('keys', 'create', 'gpu-box');
  assert.equal(again.code, 1);
  assert.match(again.err, /SB_ERR_KEY_EXISTS: An active key named "gpu-box" exists/);
  const client = await run('keys', 'create', 'laptop', '--kind', 'client', '--functions', 'x');
  assert.equal(client.code, 1);
  assert.match(client.err, /SB_ERR_KEY_INVALID/);
  const bad = await run('keys', 'create', 'odd', '--endpoints', '/a*b');
  assert.equal(bad.code, 1);
  assert.match(bad.err, /SB_ERR_KEY_INVALID/);
  assert.equal((await run('keys', 'create', 'root')).code, 0);

  const listed = await run('keys', 'list');
  assert.match(
    listed.out,
    / gpu-box +server +functions gpu\.\*,ocr; endpoints \/gpu\/\* +\S+ +active$/m,
  );
  assert.match(listed.out, / root +server +all +\S+ +active$/m);
  assert.ok(!listed.out.includes(secret));
});

test('admin API: keys/ creates scoped keys, shows the scope, refuses a taken name with 409', async (t) => {
  const { admin } = await startAdminServer(t);
  const created = await jsonOf<{ scope: unknown; key: string; id: string }>(
    await admin('keys/', {
      method: 'POST',
      body: { name: 'gpu-box', kind: 'server', functions: ['gpu.*'], endpoints: ['/gpu/*'] },
    }),
    201,
  );
  assert.deepEqual(created.scope, { functions: ['gpu.*'], endpoints: ['/gpu/*'] });
  const one = await jsonOf<{ scope: unknown }>(await admin(`keys/${created.id}/`));
  assert.deepEqual(one.scope, created.scope);
  const list = await jsonOf<{ objects: Array<{ name: string; scope: unknown }> }>(
    await admin('keys/'),
  );
  assert.deepEqual(
    list.objects.map((key) => [key.name, key.scope]),
    [
      ['gpu-box', { functions: ['gpu.*'], endpoints: ['/gpu/*'] }],
      ['test-server', null],
      ['test-client', null],
    ],
  );
  await expectError(
    await admin('keys/', { method: 'POST', body: { name: 'gpu-box', kind: 'server' } }),
    409,
    'SB_ERR_KEY_EXISTS',
  );
  await expectError(
    await admin('keys/', { method: 'POST', body: { name: 'x', kind: 'server', functions: 'a' } }),
    400,
    'SB_ERR_ADMIN_BAD_REQUEST',
  );
  await expectError(
    await admin('keys/', { method: 'POST', body: { name: 'x', kind: 'server', endpoints: ['*'] } }),
    400,
    'SB_ERR_KEY_INVALID',
  );
});

test('* in an endpoint path is refused (SB_ERR_ENDPOINT_PATH_INVALID): no wildcard or catch-all', async (t) => {
  for (const path of ['/a*b', '/files/*', '/*', '/x/*/y']) {
    assert.throws(() => endpointShape(path), { code: 'SB_ERR_ENDPOINT_PATH_INVALID' }, path);
  }
  const { sb } = await startServer(t);
  assert.throws(() => sb.httpEndpoint('/files/*', {}, () => 'x'), {
    code: 'SB_ERR_ENDPOINT_PATH_INVALID',
  });
});

test('registration is all or nothing: a bad endpoint or two patterns of one shape register none of the frame', () => {
  const registry = functionRegistry();
  const table = new EndpointTable();
  const registrations = new ProviderRegistrations(new InProcessProvider(), registry, table);
  const get = ['GET' as const];
  for (const [endpoints, code] of [
    [
      [
        { path: '/ok', methods: get },
        { path: '/a*b', methods: get },
      ],
      'SB_ERR_ENDPOINT_PATH_INVALID',
    ],
    [
      [
        { path: '/u/:id', methods: get },
        { path: '/u/:name', methods: get },
      ],
      'SB_ERR_ENDPOINT_CONFLICT',
    ],
  ] as const) {
    assert.throws(() => registrations.add([{ name: 'fn' }], endpoints), { code });
    assert.equal(registry.has('fn'), false);
    assert.deepEqual(table.live(), []);
    assert.deepEqual(registrations.functionNames(), []);
  }
});

test('over the wire: a register frame with a bad endpoint path registers none of its functions', async (t) => {
  const { sb, wsUrl } = await startServer(t);
  const client = await helloClient(t, wsUrl, SERVER_KEY);
  client.send({
    type: 'register',
    id: 1,
    functions: [{ name: 'half' }],
    endpoints: [{ path: '/fine' }, { path: '/a*b' }],
  });
  // Refused with an error frame (connection kept) or, by an older gate, a protocol close.
  const answer = await Promise.race([client.next(), client.closed]);
  const code = 'type' in answer ? refusal(answer).code : answer.reason.split(':')[0];
  assert.ok(
    code === 'SB_ERR_ENDPOINT_PATH_INVALID' || code === 'SB_ERR_PROTO_BAD_FRAME',
    String(code),
  );
  assert.equal(sb.app.switchboard.registry.has('half'), false);
  assert.deepEqual(sb.app.switchboard.endpoints.live(), []);
});

async function modeOf(file: string): Promise<number> {
  return (await stat(file)).mode & 0o777;
}

test('file modes: data folder 0700, switchboard.db with its -wal and -shm and secret.key 0600', async (t) => {
  const root = await makeDataDir(t);
  const dataDir = path.join(root, 'fresh');
  const { sb } = await startServer(t, { dataDir });
  sb.keys.create('written', 'server'); // a write: the WAL and its index exist now
  assert.equal(await modeOf(dataDir), 0o700);
  for (const file of ['switchboard.db', 'switchboard.db-wal', 'switchboard.db-shm', 'secret.key']) {
    assert.equal(await modeOf(path.join(dataDir, file)), 0o600, file);
  }
});

test('a database left 0644 by an older version is tightened to 0600 when opened', async (t) => {
  const dataDir = await makeDataDir(t);
  oldDatabase(dataDir).close();
  await chmod(path.join(dataDir, 'switchboard.db'), 0o644);
  const db = openDatabase(dataDir);
  t.after(() => db.close());
  new KeyStore(db).create('w', 'server');
  for (const file of ['switchboard.db', 'switchboard.db-wal', 'switchboard.db-shm']) {
    assert.equal(await modeOf(path.join(dataDir, file)), 0o600, file);
  }
});

/** Starts a server on `dataDir`, collecting what it logs at warn and above. */
async function startLogged(t: TestContext, dataDir: string) {
  const logged: Array<{ level: number; msg: string; file?: string }> = [];
  const stream = new Writable({
    write(chunk: Buffer, _encoding, done) {
      logged.push(JSON.parse(chunk.toString()) as (typeof logged)[number]);
      done();
    },
  });
  await startServer(t, { dataDir, logger: { level: 'warn', stream } });
  return logged;
}

test('a secret.key other users can read is used, with one warning in the log', async (t) => {
  const dataDir = path.join(await makeDataDir(t), 'data');
  await mkdir(dataDir, { mode: 0o700 });
  const secretFile = path.join(dataDir, 'secret.key');
  await writeFile(secretFile, `${'ab'.repeat(32)}\n`, { mode: 0o644 });
  await chmod(secretFile, 0o644);
  const logged = await startLogged(t, dataDir);
  const warnings = logged.filter((entry) => entry.msg.includes('secret.key'));
  assert.equal(warnings.length, 1, JSON.stringify(logged));
  assert.equal(warnings[0]!.level, 40);
  assert.match(warnings[0]!.msg, /mode 0644.*chmod 600/);
  assert.equal(await modeOf(secretFile), 0o644, 'left as the operator set it');

  const quiet = path.join(await makeDataDir(t), 'quiet');
  assert.deepEqual(
    (await startLogged(t, quiet)).filter((entry) => entry.msg.includes('secret.key')),
    [],
  );
});

test('minPasswordLength applies to app code and to sb.users.* from uplinks; shorter is SB_ERR_USER_INVALID', async (t) => {
  const { sb, wsUrl } = await startServer(t, { minPasswordLength: 12 });
  await assert.rejects(sb.users.create({ email: 'a@example.com', password: 'eleven char' }), {
    code: 'SB_ERR_USER_INVALID',
  });
  const user = await sb.users.create({ email: 'a@example.com', password: 'twelve chars' });
  const client = await helloClient(t, wsUrl, SERVER_KEY);
  client.send({
    type: 'call',
    id: 1,
    name: 'sb.users.update',
    args: [user.id, { password: 'too short' }],
  });
  const answer = await client.next();
  assert.equal(refusal(answer).code, 'SB_ERR_USER_INVALID');
  assert.throws(() => createSwitchboard({ dataDir: '/nonexistent', minPasswordLength: 0 }), {
    code: 'SB_ERR_OPTIONS_INVALID',
  });
});
