import assert from 'node:assert/strict';
import http from 'node:http';
import { test, type TestContext } from 'node:test';
import { spawnScript, type Child } from './helpers/child.ts';
import { expectError, textRequest, type TextAnswer } from './helpers/http-client.ts';
import { helloClient } from './helpers/raw-client.ts';
import { SERVER_KEY, makeDataDir, startServer } from './helpers/server.ts';

/** `switchboard start` as a real child process on a free port, with a fresh data folder. */
async function startCli(
  t: TestContext,
  args: string[] = [],
): Promise<{ server: Child; url: string; key: string }> {
  const dataDir = await makeDataDir(t);
  const server = spawnScript(t, 'server/src/cli/main.ts', {}, [
    'start',
    '--port',
    '0',
    '--data-dir',
    dataDir,
    ...args,
  ]);
  const url = (await server.waitFor(/^Switchboard listening on /, 20_000)).split(' ').pop()!;
  const key = (await server.waitFor(/SWITCHBOARD_KEY=/)).split('=')[1]!;
  return { server, url, key };
}

async function startUplink(
  t: TestContext,
  url: string,
  key: string,
  env: Record<string, string> = {},
): Promise<Child> {
  const child = spawnScript(t, 'test/fixtures/drain-uplink.ts', {
    SB_URL: url,
    SB_KEY: key,
    SB_NAME: 'U',
    ...env,
  });
  await child.waitFor(/^ready /, 20_000);
  return child;
}

/** One request through `agent` (so on one of its kept-alive connections). */
function request(
  agent: http.Agent,
  url: string,
  init: { method?: string; headers?: Record<string, string>; body?: string } = {},
): Promise<TextAnswer> {
  return textRequest(url, { agent, ...init });
}

function codeOf(answer: TextAnswer): string {
  return (JSON.parse(answer.body) as { code: string }).code;
}

test('SIGTERM: calls in flight finish, /readyz is 503, new requests are refused, the process exits 0', async (t) => {
  const { server, url, key } = await startCli(t);
  // /lines streams five lines 200 ms apart.
  const uplink = await startUplink(t, url, key, { SB_DELAY_MS: '200' });
  // Two kept-alive connections opened before the signal, as a load balancer or client holds.
  const agent = new http.Agent({ keepAlive: true, maxSockets: 2 });
  t.after(() => agent.destroy());
  const warmUp = await Promise.all([
    request(agent, `${url}/healthz`),
    request(agent, `${url}/healthz`),
  ]);
  assert.deepEqual(
    warmUp.map((answer) => answer.status),
    [200, 200],
  );

  const headers = { authorization: `Bearer ${key}`, 'content-type': 'application/json' };
  const calls = [1, 2, 3].map(() =>
    fetch(`${url}/_/call/slow`, { method: 'POST', headers, body: '[1000]' }),
  );
  await uplink.waitForCount(/^started slow$/, 3);
  // A streamed answer under way: its first line has arrived.
  const streamed = await fetch(`${url}/_/api/lines`);
  const reader = streamed.body!.getReader();
  const first = await reader.read();
  server.process.kill('SIGTERM');
  await server.waitFor(/^SIGTERM: shutting down, up to 10000 ms/);
  await uplink.waitFor(/^goaway 10000$/);

  const ready = await request(agent, `${url}/readyz`);
  assert.equal(ready.status, 503);
  assert.equal(codeOf(ready), 'SB_ERR_SERVER_CLOSING');
  const refused = await request(agent, `${url}/_/call/who`, {
    method: 'POST',
    headers,
    body: '[]',
  });
  assert.equal(refused.status, 503);
  assert.equal(codeOf(refused), 'SB_ERR_SERVER_CLOSING');
  assert.equal(refused.headers.connection, 'close');
  // No new connections at all.
  await assert.rejects(
    new Promise((resolve, reject) => {
      http.get(`${url}/healthz`, { agent: false }, resolve).on('error', reject);
    }),
    { code: 'ECONNREFUSED' },
  );

  for (const answer of await Promise.all(calls)) {
    assert.equal(answer.status, 200);
    assert.equal(await answer.json(), 'U');
  }
  let text = Buffer.from(first.value).toString('utf8');
  for (let chunk = await reader.read(); !chunk.done; chunk = await reader.read())
    text += Buffer.from(chunk.value).toString('utf8');
  assert.equal(text, 'U 0\nU 1\nU 2\nU 3\nU 4\n', 'the streamed answer finished whole');
  assert.deepEqual(await server.exited, { code: 0, signal: null });
  assert.ok(server.lines.includes('Every call in flight finished; stopped.'));
  assert.equal(server.stderr(), '');
  // The uplink was told to go away, not drained: it tries to come back (to a new server).
  await uplink.waitFor(/^status reconnecting/);
});

test('SIGTERM: when the grace period ends first, what is left is cut off and the process exits 1', async (t) => {
  const { server, url, key } = await startCli(t, ['--shutdown-grace-ms', '500']);
  const uplink = await startUplink(t, url, key);
  const hanging = fetch(`${url}/_/api/hang`);
  await uplink.waitFor(/^started \/hang$/);
  server.process.kill('SIGTERM');
  await expectError(await hanging, 503, 'SB_ERR_DRAIN_TIMEOUT');
  assert.deepEqual(await server.exited, { code: 1, signal: null });
  assert.match(server.stderr(), /shutdown deadline \(500 ms\) passed; cut off 1 HTTP request/);
});

test('a second signal ends the process at once', async (t) => {
  const { server, url, key } = await startCli(t, ['--shutdown-grace-ms', '600000']);
  const uplink = await startUplink(t, url, key);
  const hanging = fetch(`${url}/_/api/hang`).catch((error: unknown) => error);
  await uplink.waitFor(/^started \/hang$/);
  server.process.kill('SIGTERM');
  await server.waitFor(/^SIGTERM: shutting down/);
  server.process.kill('SIGINT');
  assert.deepEqual(await server.exited, { code: 1, signal: null });
  assert.match(server.stderr(), /SIGINT again: exiting now/);
  assert.ok((await hanging) instanceof Error, 'the cut-off request saw its connection close');
});

test('shutdown(): nested calls of work in flight go through, new calls from idle uplinks are refused', async (t) => {
  const { sb, wsUrl } = await startServer(t);
  sb.callable('g', () => 'from g');
  const busy = await helloClient(t, wsUrl, SERVER_KEY);
  busy.send({ type: 'register', id: 1, functions: [{ name: 'f' }] });
  await busy.next();
  const idle = await helloClient(t, wsUrl, SERVER_KEY);
  const inFlight = sb.call('f');
  const call = await busy.next();
  assert.equal(call.type, 'call');

  const outcome = sb.shutdown({ graceMs: 10_000 });
  assert.deepEqual(await busy.next(), { type: 'goaway', graceMs: 10_000 });
  assert.deepEqual(await idle.next(), { type: 'goaway', graceMs: 10_000 });
  // The uplink serving `f` calls `g` on the way: that is part of the work in flight.
  busy.send({ type: 'call', id: 7, name: 'g', args: [] });
  assert.deepEqual(await busy.next(), { type: 'result', id: 7, value: 'from g' });
  // An uplink with nothing in hand starting new work is refused.
  idle.send({ type: 'call', id: 1, name: 'g', args: [] });
  const refused = await idle.next();
  assert.equal(refused.type === 'error' && refused.error.code, 'SB_ERR_SERVER_CLOSING');
  busy.send({ type: 'result', id: call.type === 'call' ? call.id : 0, value: 'from f' });
  assert.equal(await inFlight, 'from f');
  assert.deepEqual(await outcome, { clean: true, httpRequests: 0, busyUplinks: 0, appCalls: 0 });
  assert.equal((await busy.closed).code, 1001);
  await assert.rejects(sb.shutdown({ graceMs: -1 }), { code: 'SB_ERR_OPTIONS_INVALID' });
});
