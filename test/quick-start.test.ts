import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { test } from 'node:test';
import { spawnScript } from './helpers/child.ts';
import { makeDataDir } from './helpers/server.ts';

/** The CLI entry `npm start` runs (the build, with plain node); the quick start drives the same file. */
const CLI = 'server/bin/switchboard.js';

test('quick start: the CLI prints a key and snippet, the hello example serves add, curl-style POST gets 5', async (t) => {
  const dataDir = await makeDataDir(t);
  const server = spawnScript(t, CLI, {}, ['start', '--port', '0', '--data-dir', dataDir]);
  const listening = await server.waitFor(/^Switchboard listening on /);
  const url = listening.replace('Switchboard listening on ', '').trim();
  const keyLine = await server.waitFor(/^\s+export SWITCHBOARD_KEY=/);
  const key = keyLine.trim().replace('export SWITCHBOARD_KEY=', '');
  await server.waitFor(/node examples\/hello-uplink\.mjs/);
  await server.waitFor(/--functions/); // the last line of the start message
  // The secret is printed once (stdout often lands in logs); the rest refers to it.
  const printed = server.lines.join('\n');
  assert.equal(printed.split(key).length - 1, 1, printed);

  const uplink = spawnScript(t, 'examples/hello-uplink.mjs', {
    SWITCHBOARD_URL: url,
    SWITCHBOARD_KEY: key,
  });
  await uplink.waitFor(/ready: add, greet/);

  const response = await fetch(`${url}/_/call/add`, {
    method: 'POST',
    headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
    body: '[2,3]',
  });
  assert.equal(await response.json(), 5);
  const greet = await fetch(`${url}/_/call/greet`, {
    method: 'POST',
    headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
    body: '["Ada"]',
  });
  assert.match((await greet.json()) as string, /^Hello, Ada! \(called by http with key default\)$/);

  server.process.kill('SIGTERM');
  assert.equal((await server.exited).code, 0);
  await uplink.waitFor(/^\[hello-uplink\] reconnecting$/);
  uplink.process.kill('SIGTERM');
  assert.equal((await uplink.exited).code, 0);
});

test('npm start runs the same CLI entry the quick-start test drives', async () => {
  const pkg = JSON.parse(await readFile(new URL('../package.json', import.meta.url), 'utf8')) as {
    scripts: Record<string, string>;
  };
  assert.equal(pkg.scripts.start, `node ${CLI} start`);
});
