import assert from 'node:assert/strict';
import { once } from 'node:events';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { test } from 'node:test';
import { WebSocketServer } from 'ws';
import { createSwitchboard } from '@switchboard/server';
import { encodeValue } from '@switchboard/shared';
import { connect, type UplinkStatus } from '@switchboard/uplink';
import { backoffDelayMs } from '../uplink-client/src/backoff.ts';
import { spawnUplink } from './helpers/child.ts';
import { SERVER_KEY, makeDataDir, startServer, until } from './helpers/server.ts';

test('backoff grows exponentially with full jitter and stays under the cap', () => {
  const policy = { initialDelayMs: 100, maxDelayMs: 2000 };
  assert.equal(
    backoffDelayMs(1, policy, () => 1),
    100,
  );
  assert.equal(
    backoffDelayMs(3, policy, () => 1),
    400,
  );
  assert.equal(
    backoffDelayMs(10, policy, () => 1),
    2000,
  );
  assert.equal(
    backoffDelayMs(50, policy, () => 1),
    2000,
  );
  assert.equal(
    backoffDelayMs(5, policy, () => 0),
    10,
    'never below a tenth of the initial delay',
  );
  const spread = new Set(Array.from({ length: 50 }, () => backoffDelayMs(6, policy)));
  assert.ok(spread.size > 10, 'jitter spreads reconnects');
});

test('after a server restart the uplink reconnects and its registrations are restored', async (t) => {
  const dataDir = await makeDataDir(t);
  const keys = [{ name: 'k', key: SERVER_KEY, kind: 'server' as const }];
  const first = createSwitchboard({ host: '127.0.0.1', port: 0, dataDir, keys });
  const { url } = await first.listen();
  const port = Number(new URL(url).port);
  const child = await spawnUplink(t, url, SERVER_KEY);
  assert.equal(await first.call('add', 1, 2), 3);

  await first.close();
  await child.waitFor(/^status reconnecting/);
  const second = createSwitchboard({ host: '127.0.0.1', port, dataDir, keys });
  t.after(() => second.close());
  await second.listen();
  await child.waitFor(/^registered$/); // printed on reconnects only
  assert.equal(await second.call('add', 20, 22), 42);
});

test('a silent uplink (SIGSTOP) is dropped by the heartbeat', async (t) => {
  const { sb, url } = await startServer(t, {
    pingIntervalMs: 150,
    pongTimeoutMs: 150,
    unresponsiveTimeoutMs: 300,
  });
  const child = await spawnUplink(t, url, SERVER_KEY);
  const core = sb.app.switchboard;
  assert.ok(core.registry.has('add'));
  child.process.kill('SIGSTOP');
  const stoppedAt = Date.now();
  await until(() => !core.registry.has('add'), 5000, 'the stopped uplink to be dropped');
  const tookMs = Date.now() - stoppedAt;
  assert.ok(tookMs <= 150 + 300 + 500, `dropped after ${tookMs} ms`);
  await assert.rejects(sb.call('add', 1, 2), { code: 'SB_ERR_NO_SUCH_FUNCTION' });
  // Woken up, it finds its connection gone and comes back.
  child.process.kill('SIGCONT');
  await child.waitFor(/^registered$/); // printed on reconnects only
  assert.equal(await sb.call('add', 1, 2), 3);
});

test('the client drops a silent server after two ping intervals and reconnects', async (t) => {
  // A fake server that welcomes, then stops reading its socket (so it never answers pings).
  const http = createServer();
  const wss = new WebSocketServer({ server: http });
  let connections = 0;
  wss.on('connection', (ws, req) => {
    connections++;
    ws.once('message', () => {
      ws.send(
        encodeValue({
          type: 'welcome',
          protocol: 1,
          connectionId: `fake-${connections}`,
          keyKind: 'server',
          keyName: 'fake',
          limits: { maxFrameBytes: 1 << 20, pingIntervalMs: 60_000, defaultCallTimeoutMs: 1000 },
        }),
      );
      req.socket.pause();
    });
  });
  http.listen(0, '127.0.0.1');
  await once(http, 'listening');
  t.after(() => {
    for (const ws of wss.clients) ws.terminate();
    wss.close();
    http.close();
  });
  const url = `http://127.0.0.1:${(http.address() as AddressInfo).port}`;
  const uplink = await connect({
    url,
    key: SERVER_KEY,
    pingIntervalMs: 100,
    reconnect: { initialDelayMs: 20, maxDelayMs: 50 },
  });
  t.after(() => uplink.close());
  const statuses: UplinkStatus[] = [];
  uplink.on('status', (status) => statuses.push(status));
  await until(() => statuses.some((s) => s.state === 'connected'), 5000, 'a reconnect');
  const lost = statuses.find((s) => s.state === 'reconnecting');
  assert.ok(lost && lost.state === 'reconnecting');
  assert.equal(lost.error.code, 'SB_ERR_CONNECTION_LOST');
  assert.ok(connections >= 2);
});

test('connect() rejects with a coded error: bad key, nothing listening', async (t) => {
  const { url } = await startServer(t);
  await assert.rejects(connect({ url, key: 'sbk_s_wrong-key-000000000000' }), {
    code: 'SB_ERR_AUTH_BAD_KEY',
  });
  const http = createServer();
  http.listen(0, '127.0.0.1');
  await once(http, 'listening');
  const port = (http.address() as AddressInfo).port;
  http.close();
  await assert.rejects(
    connect({ url: `http://127.0.0.1:${port}`, key: SERVER_KEY, reconnect: false }),
    {
      code: 'SB_ERR_CONNECTION_FAILED',
    },
  );
  await assert.rejects(
    connect({
      url: `http://127.0.0.1:${port}`,
      key: SERVER_KEY,
      connectTimeoutMs: 300,
      reconnect: { initialDelayMs: 20, maxDelayMs: 50 },
    }),
    { code: 'SB_ERR_CONNECTION_FAILED' },
  );
  await assert.rejects(connect({ url: 'ftp://x', key: SERVER_KEY }), {
    code: 'SB_ERR_OPTIONS_INVALID',
  });
  await assert.rejects(connect({ url, key: '' }), { code: 'SB_ERR_OPTIONS_INVALID' });
});

test('calls made while reconnecting wait for the connection; calls in flight when it drops fail', async (t) => {
  const dataDir = await makeDataDir(t);
  const keys = [{ name: 'k', key: SERVER_KEY, kind: 'server' as const }];
  const first = createSwitchboard({ host: '127.0.0.1', port: 0, dataDir, keys });
  const { url } = await first.listen();
  first.callable('hang', () => new Promise(() => undefined));
  const uplink = await connect({
    url,
    key: SERVER_KEY,
    reconnect: { initialDelayMs: 20, maxDelayMs: 100 },
  });
  t.after(() => uplink.close());
  const inFlight = uplink.call('hang');
  const reconnecting = new Promise<void>((resolve) =>
    uplink.on('status', (s) => s.state === 'reconnecting' && resolve()),
  );
  await first.close();
  await assert.rejects(inFlight, { code: 'SB_ERR_CONNECTION_LOST' });
  await reconnecting;
  const queued = uplink.call('ping');
  const second = createSwitchboard({
    host: '127.0.0.1',
    port: Number(new URL(url).port),
    dataDir,
    keys,
  });
  t.after(() => second.close());
  second.callable('ping', () => 'pong');
  await second.listen();
  assert.equal(await queued, 'pong');
  await uplink.close();
  await assert.rejects(uplink.call('ping'), { code: 'SB_ERR_CLIENT_CLOSED' });
});
