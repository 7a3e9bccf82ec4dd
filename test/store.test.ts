import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { test } from 'node:test';
import Database from 'better-sqlite3';
import { createSwitchboard } from '@switchboard/server';
import { connect } from '@switchboard/uplink';
import { spawnScript } from './helpers/child.ts';
import { makeDataDir } from './helpers/server.ts';

test('first start creates a server key, stored only as a hash; later starts reuse the store', async (t) => {
  const dataDir = await makeDataDir(t);
  const first = createSwitchboard({ host: '127.0.0.1', port: 0, dataDir });
  const key = first.initialKey;
  assert.match(key ?? '', /^sbk_s_[A-Za-z0-9_-]{43}$/);
  const { url } = await first.listen();
  const uplink = await connect({ url, key: key!, reconnect: false });
  assert.equal(uplink.keyKind, 'server');
  await uplink.close();
  await first.close();

  const file = path.join(dataDir, 'switchboard.db');
  const raw = await readFile(file);
  assert.ok(!raw.includes(key!), 'the key itself is not in the database file');
  const db = new Database(file, { readonly: true });
  const rows = db.prepare('SELECT name, kind, hash FROM keys').all() as Array<{
    name: string;
    kind: string;
    hash: string;
  }>;
  db.close();
  assert.deepEqual(rows, [
    { name: 'default', kind: 'server', hash: createHash('sha256').update(key!).digest('hex') },
  ]);

  const second = createSwitchboard({ host: '127.0.0.1', port: 0, dataDir });
  t.after(() => second.close());
  assert.equal(second.initialKey, undefined, 'no new key on later starts');
  const again = await second.listen();
  const reconnected = await connect({ url: again.url, key: key!, reconnect: false });
  await reconnected.close();

  second.keys.revoke('default');
  await assert.rejects(connect({ url: again.url, key: key!, reconnect: false }), {
    code: 'SB_ERR_AUTH_BAD_KEY',
  });
});

test('the CLI creates, lists and revokes keys in a data folder', async (t) => {
  const dataDir = await makeDataDir(t);
  const run = async (...args: string[]) => {
    const child = spawnScript(t, 'server/src/cli/main.ts', {}, [...args, '--data-dir', dataDir]);
    const { code } = await child.exited;
    return { code, out: child.lines.join('\n') };
  };
  const created = await run('keys', 'create', 'laptop', '--kind', 'client');
  assert.equal(created.code, 0);
  const secret = /^(sbk_c_\S+)$/m.exec(created.out)?.[1];
  assert.ok(secret, created.out);
  const listed = await run('keys', 'list');
  assert.match(listed.out, /^\S+ +laptop +client +- +\S+ +active$/m);
  assert.ok(!listed.out.includes(secret), 'list never shows the secret');
  assert.equal((await run('keys', 'revoke', 'laptop')).code, 0);
  assert.match((await run('keys', 'list')).out, /^\S+ +laptop +client +- +\S+ +revoked \S+$/m);
  assert.equal((await run('keys', 'revoke', 'laptop')).code, 1);
  assert.equal((await run('bogus')).code, 2); // a usage mistake
  assert.equal((await run('--help')).code, 0);
});

test('processes opening a new data folder at once migrate it one after the other', async (t) => {
  const dataDir = path.join(await makeDataDir(t), 'fresh');
  const children = Array.from({ length: 6 }, () =>
    spawnScript(t, 'test/fixtures/open-store.ts', {}, [dataDir]),
  );
  const exits = await Promise.all(children.map((child) => child.exited));
  assert.deepEqual(
    exits.map((exit) => exit.code),
    children.map(() => 0),
  );
  const versions = new Set(children.map((child) => child.lines.join()));
  assert.equal(versions.size, 1);
  assert.match([...versions][0]!, /^version [1-9]\d*$/);
});
