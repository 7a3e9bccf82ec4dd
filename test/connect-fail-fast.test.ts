import assert from 'node:assert/strict';
import { once } from 'node:events';
import { createServer, type AddressInfo, type Socket } from 'node:net';
import { performance } from 'node:perf_hooks';
import { test } from 'node:test';
import { createSwitchboard } from '@switchboard/server';
import { connect } from '@switchboard/uplink';
import { spawnScript } from './helpers/child.ts';
import { SERVER_KEY, makeDataDir, startServer } from './helpers/server.ts';

/** A port with nothing listening on it: bound, then closed. */
async function closedPort(): Promise<number> {
  const server = createServer();
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as AddressInfo;
  server.close();
  await once(server, 'close');
  return port;
}

/** Runs `promise`, which must reject, and returns its error and how long it took. */
async function timedRejection(promise: Promise<unknown>): Promise<{ error: unknown; ms: number }> {
  const started = performance.now();
  try {
    await promise;
  } catch (error) {
    return { error, ms: performance.now() - started };
  }
  return assert.fail('expected a rejection');
}

test('connect() to a port where nothing listens rejects at once with SB_ERR_CONNECTION_FAILED', async () => {
  const url = `http://127.0.0.1:${await closedPort()}`;
  const { error, ms } = await timedRejection(connect({ url, key: SERVER_KEY }));
  assert.equal((error as { code?: string }).code, 'SB_ERR_CONNECTION_FAILED');
  assert.match((error as Error).message, /ECONNREFUSED.*waitForServer/);
  assert.ok(ms < 3000, `rejected after ${Math.round(ms)} ms`);
});

test('a refused key rejects at once, with or without waitForServer', async (t) => {
  const { url } = await startServer(t);
  for (const waitForServer of [false, true]) {
    const key = 'sbk_s_not-a-key-of-this-server-0123456789';
    const { error, ms } = await timedRejection(connect({ url, key, waitForServer }));
    assert.equal((error as { code?: string }).code, 'SB_ERR_AUTH_BAD_KEY');
    assert.ok(ms < 3000, `rejected after ${Math.round(ms)} ms (waitForServer ${waitForServer})`);
  }
});

test('waitForServer keeps trying until the server is up, then resolves', async (t) => {
  // First something that drops every connection, so the uplink provably fails and retries...
  const sockets = new Set<Socket>();
  const dropper = createServer((socket) => {
    sockets.add(socket);
    socket.destroy();
  });
  dropper.listen(0, '127.0.0.1');
  await once(dropper, 'listening');
  const { port } = dropper.address() as AddressInfo;
  const connecting = connect({
    url: `http://127.0.0.1:${port}`,
    key: SERVER_KEY,
    waitForServer: true,
    connectTimeoutMs: Infinity,
    reconnect: { initialDelayMs: 20, maxDelayMs: 100 },
  });
  let settled = false;
  connecting.then(
    () => (settled = true),
    () => (settled = true),
  );
  for (let seen = 0; seen < 2;) {
    await once(dropper, 'connection');
    seen++;
  }
  dropper.close();
  await once(dropper, 'close');
  assert.equal(settled, false, 'connect() waits through failed attempts');
  // ...then the real server on the same port.
  const sb = createSwitchboard({
    host: '127.0.0.1',
    port,
    dataDir: await makeDataDir(t),
    keys: [{ name: 'k', key: SERVER_KEY, kind: 'server' }],
  });
  t.after(() => sb.close());
  await sb.listen();
  const uplink = await connecting;
  t.after(() => uplink.close());
  uplink.callable('ping', () => 'pong');
  await uplink.synced();
  assert.equal(await sb.call('ping'), 'pong');
});

test('waitForServer still gives up after connectTimeoutMs', async () => {
  const url = `http://127.0.0.1:${await closedPort()}`;
  const { error, ms } = await timedRejection(
    connect({
      url,
      key: SERVER_KEY,
      waitForServer: true,
      connectTimeoutMs: 300,
      reconnect: { initialDelayMs: 20, maxDelayMs: 50 },
    }),
  );
  assert.equal((error as { code?: string }).code, 'SB_ERR_CONNECTION_FAILED');
  assert.match((error as Error).message, /within 300 ms/);
  assert.ok(ms >= 250, `gave up after ${Math.round(ms)} ms, before its deadline`);
});

test('the examples print one line, not a stack, for a refused key or no server, and exit 1', async (t) => {
  const { url } = await startServer(t);
  const cases = [
    { env: { SWITCHBOARD_URL: url, SWITCHBOARD_KEY: 'sbk_s_wrong-key-0123456789abcdef' } },
    {
      env: {
        SWITCHBOARD_URL: `http://127.0.0.1:${await closedPort()}`,
        SWITCHBOARD_KEY: SERVER_KEY,
      },
    },
  ];
  const expected = ['SB_ERR_AUTH_BAD_KEY', 'SB_ERR_CONNECTION_FAILED'];
  for (const script of ['examples/hello-uplink.mjs', 'examples/todo-api/uplink.ts']) {
    const children = cases.map(({ env }) => spawnScript(t, script, env));
    for (const [index, child] of children.entries()) {
      const { code } = await child.exited;
      const lines = child.stderr().trimEnd().split('\n');
      assert.equal(code, 1, `${script}: ${child.stderr()}`);
      assert.equal(lines.length, 1, `${script} printed one line: ${child.stderr()}`);
      assert.match(lines[0]!, new RegExp(`could not connect: ${expected[index]!}: `));
    }
  }
});
