import assert from 'node:assert/strict';
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import Fastify from 'fastify';
import { switchboardPlugin } from '@switchboard/server';
import { spawnScript } from './helpers/child.ts';
import { runCli } from './helpers/cli.ts';
import { expectError } from './helpers/http-client.ts';
import { SERVER_KEY, makeDataDir, startServer } from './helpers/server.ts';

test('GET / sends a browser to the dashboard and names the URLs to anything else', async (t) => {
  const { url } = await startServer(t, { openapi: { title: 'T' } });
  const browser = await fetch(`${url}/`, {
    headers: { accept: 'text/html,application/xhtml+xml,*/*;q=0.8' },
    redirect: 'manual',
  });
  assert.equal(browser.status, 302);
  assert.equal(browser.headers.get('location'), '/_/admin/');

  const plain = await fetch(`${url}/`);
  assert.equal(plain.status, 200);
  const map = (await plain.json()) as Record<string, string>;
  assert.equal(map.dashboard, '/_/admin/');
  assert.equal(map.call, '/_/call/<function>');
  assert.equal(map.api, '/_/api/');
  assert.equal(map.openapi, '/_/openapi.json');
  assert.equal(map.health, '/healthz');
  assert.equal(map.metrics, '/metrics');
  // The dashboard really is where it says.
  assert.equal((await fetch(`${url}${map.dashboard}`)).status, 200);

  // Other unknown routes keep their coded 404.
  await expectError(await fetch(`${url}/nope`), 404, 'SB_ERR_HTTP_NOT_FOUND');
  await expectError(await fetch(`${url}/`, { method: 'DELETE' }), 404, 'SB_ERR_HTTP_NOT_FOUND');
});

test('mounted as a plugin, Switchboard leaves the host app its own /', async (t) => {
  const app = Fastify();
  app.get('/', () => ({ host: true }));
  await app.register(switchboardPlugin, {
    dataDir: await makeDataDir(t),
    keys: [{ name: 'k', key: SERVER_KEY, kind: 'server' }],
  });
  t.after(() => app.close());
  const response = await app.inject({ method: 'GET', url: '/' });
  assert.deepEqual(response.json(), { host: true });
});

test('switchboard start names the dashboard URL', async (t) => {
  const dataDir = await makeDataDir(t);
  const child = spawnScript(t, 'server/src/cli/main.ts', {}, [
    'start',
    '--port',
    '0',
    '--data-dir',
    dataDir,
  ]);
  const url = (await child.waitFor(/^Switchboard listening on /)).replace(
    'Switchboard listening on ',
    '',
  );
  const line = await child.waitFor(/^\s+dashboard\s+/);
  assert.ok(line.includes(`${url}/_/admin/`), line);
  child.process.kill('SIGTERM');
  assert.equal((await child.exited).code, 0);
});

test('every CLI list starts with a header row, even when empty', async (t) => {
  const dataDir = await makeDataDir(t);
  const headers: Record<string, RegExp> = {
    keys: /^id\s+name\s+kind\s+scope\s+created\s+state$/,
    tokens: /^id\s+name\s+created\s+last used\s+state$/,
    users: /^id\s+email\s+enabled\s+created\s+last login$/,
  };
  for (const [group, header] of Object.entries(headers)) {
    const listed = await runCli(t, dataDir, [group, 'list']);
    assert.equal(listed.code, 0, listed.err);
    assert.match(listed.out.split('\n')[0]!, header, `${group} list: ${listed.out}`);
  }
});

test("the README's inside-the-server snippet runs as written", async (t) => {
  const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
  const readme = await readFile(path.join(root, 'README.md'), 'utf8');
  const block = /And inside the server process:\n\n```ts\n([\s\S]*?)```/.exec(readme)?.[1];
  assert.ok(block, 'README has the snippet');
  // The one change: port 0 and a fresh data folder instead of 3030 and ./.switchboard.
  const asWritten = 'createSwitchboard({ port: 3030 })';
  assert.ok(block.includes(asWritten), block);
  const dataDir = await makeDataDir(t);
  const source = block.replace(
    asWritten,
    `createSwitchboard({ port: 0, dataDir: ${JSON.stringify(dataDir)} })`,
  );
  // Under the repo (git-ignored folder) so that '@switchboard/server' resolves.
  const relative = path.join('test-artifacts', `readme-snippet-${process.pid}.ts`);
  await mkdir(path.join(root, 'test-artifacts'), { recursive: true });
  await writeFile(path.join(root, relative), source);
  t.after(() => rm(path.join(root, relative), { force: true }));
  const child = spawnScript(t, relative, {});
  await child.waitFor(/^\d{4}-\d\d-\d\dT[\d:.]+Z$/);
  await child.waitFor(/^no uplink serves add yet/);
  assert.equal(child.stderr(), '');
});
