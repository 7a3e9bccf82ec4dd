import assert from 'node:assert/strict';
import http from 'node:http';
import { test, type TestContext } from 'node:test';
import {
  CLOSE_CODES,
  decodeServerMessage,
  decodeUplinkMessage,
  encodeValue,
} from '@switchboard/shared';
import { connect, type UplinkStatus } from '@switchboard/uplink';
import { spawnScript, type Child } from './helpers/child.ts';
import { expectError } from './helpers/http-client.ts';
import { startLoad } from './helpers/load.ts';
import { helloClient } from './helpers/raw-client.ts';
import { SERVER_KEY, startServer, until } from './helpers/server.ts';

async function spawnDrainUplink(
  t: TestContext,
  url: string,
  env: Record<string, string>,
): Promise<{ child: Child; id: string }> {
  const child = spawnScript(t, 'test/fixtures/drain-uplink.ts', {
    SB_URL: url,
    SB_KEY: SERVER_KEY,
    ...env,
  });
  const ready = await child.waitFor(/^ready /, 20_000);
  return { child, id: ready.slice('ready '.length) };
}

/** Lines printed after the drain began must not show a reconnect. */
function assertNoReconnect(child: Child, after: RegExp): void {
  const from = child.lines.findIndex((line) => after.test(line));
  assert.ok(from !== -1, `no line matching ${after}`);
  const later = child.lines.slice(from);
  assert.ok(
    !later.some((line) => /^status (connecting|reconnecting|connected)/.test(line)),
    later.join('\n'),
  );
}

test('an uplink drained under load hands over to its replacement with zero failed requests', async (t) => {
  const { sb, url } = await startServer(t);
  const a = await spawnDrainUplink(t, url, { SB_NAME: 'A' });
  const load = startLoad(url, 8);
  t.after(() => load.stop());
  await until(() => load.servedBy('A') >= 30, 20_000, 'A to serve under load');

  // The new version comes up first; its `ready` is printed once its registrations are live.
  await spawnDrainUplink(t, url, { SB_NAME: 'B' });
  await until(() => load.servedBy('B') >= 10, 20_000, 'B to share the load');

  a.child.process.kill('SIGTERM'); // the fixture calls uplink.drain() on SIGTERM
  await a.child.waitFor(/^drained$/, 20_000);
  assert.deepEqual(await a.child.exited, { code: 0, signal: null });
  assert.ok(a.child.lines.includes('drain requested 10000'));
  assert.ok(a.child.lines.includes('status closed'), 'its own drain ends without an error');
  assertNoReconnect(a.child, /^drain requested/);

  // The load keeps going, now served by B alone.
  const servedByB = load.servedBy('B');
  await until(() => load.servedBy('B') >= servedByB + 60, 20_000, 'B to carry on alone');
  const report = await load.stop();
  t.diagnostic(`${report.total} requests: ${JSON.stringify(Object.fromEntries(report.servedBy))}`);
  assert.deepEqual(report.failures, [], `${report.failures.length} of ${report.total} failed`);
  assert.ok(report.servedBy.get('A')! > 0 && report.servedBy.get('B')! > 0);
  assert.deepEqual([...report.servedBy.keys()].sort(), ['A', 'B']);
  const core = sb.app.switchboard;
  await until(() => core.hub.find(a.id) === undefined, 5_000, 'the server to see A go');
  assert.deepEqual(
    core.hub.uplinks().map((uplink) => uplink.name),
    ['B'],
  );
});

test('hub.drain() takes an uplink out of rotation under load: it finishes, closes with 4003 and stays away', async (t) => {
  const { sb, url } = await startServer(t);
  const hub = sb.app.switchboard.hub;
  const a = await spawnDrainUplink(t, url, { SB_NAME: 'A' });
  await spawnDrainUplink(t, url, { SB_NAME: 'B' });

  const uplink = hub.find(a.id);
  assert.ok(uplink !== undefined);
  assert.equal(uplink.providerId, a.id);
  assert.equal(uplink.name, 'A');
  assert.equal(uplink.keyName, 'test-server');
  assert.equal(uplink.remoteAddress, '127.0.0.1');
  assert.ok(Number.isInteger(uplink.connectedAt) && uplink.connectedAt <= Date.now());
  assert.equal(uplink.draining, false);
  assert.equal(uplink.inFlight, 0);
  assert.deepEqual(uplink.functions().sort(), ['slow', 'who']);
  assert.deepEqual(
    uplink.endpoints().sort((x, y) => x.path.localeCompare(y.path)),
    [
      { path: '/hang', methods: ['GET'] },
      { path: '/lines', methods: ['GET'] },
      { path: '/who', methods: ['GET'] },
    ],
  );

  const load = startLoad(url, 8);
  t.after(() => load.stop());
  await until(
    () => load.servedBy('A') >= 20 && load.servedBy('B') >= 20,
    20_000,
    'both to serve under load',
  );
  assert.equal(hub.drain(a.id), true);
  assert.equal(uplink.draining, true, 'out of rotation at once');
  assert.deepEqual(uplink.functions().sort(), ['slow', 'who'], 'still listed while draining');
  assert.equal(hub.drain(a.id), true, 'draining again is harmless');
  await a.child.waitFor(/^drain admin 30000$/);
  await a.child.waitFor(/^status closed SB_ERR_UPLINK_DRAINED$/, 20_000);
  assert.deepEqual(await a.child.exited, { code: 0, signal: null }, 'nothing keeps it alive');
  assertNoReconnect(a.child, /^drain admin/);
  await until(() => hub.find(a.id) === undefined, 5_000, 'the server to see A go');

  const servedByB = load.servedBy('B');
  await until(() => load.servedBy('B') >= servedByB + 60, 20_000, 'B to carry on alone');
  const report = await load.stop();
  t.diagnostic(`${report.total} requests: ${JSON.stringify(Object.fromEntries(report.servedBy))}`);
  assert.deepEqual(report.failures, [], `${report.failures.length} of ${report.total} failed`);

  assert.equal(hub.drain('u_nobody'), false);
  assert.throws(() => hub.drain('u_nobody', { timeoutMs: 0 }), { code: 'SB_ERR_OPTIONS_INVALID' });
  assert.equal(hub.disconnect('u_nobody'), false);
  assert.equal(hub.find('u_nobody'), undefined);
});

test('drain deadline: the only provider refuses new work at once, and what is left is cut off with SB_ERR_DRAIN_TIMEOUT', async (t) => {
  const { sb, url } = await startServer(t);
  const a = await spawnDrainUplink(t, url, { SB_NAME: 'A', SB_DRAIN_TIMEOUT_MS: '1500' });
  const hanging = fetch(`${url}/_/api/hang`);
  const slow = sb.callWithOptions('slow', [600_000], { timeoutMs: 600_000 });
  slow.catch(() => undefined);
  await a.child.waitForCount(/^started /, 2);

  a.child.process.kill('SIGTERM');
  await a.child.waitFor(/^drain requested 1500$/);
  // The only provider is out of rotation: what users get when it leaves, at once.
  await expectError(await fetch(`${url}/_/api/who`), 503, 'SB_ERR_HTTP_NO_PROVIDER');
  await expectError(
    await fetch(`${url}/_/call/who`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: '[]',
    }),
    404,
    'SB_ERR_NO_SUCH_FUNCTION',
  );
  await assert.rejects(sb.call('who'), { code: 'SB_ERR_NO_SUCH_FUNCTION' });

  await expectError(await hanging, 503, 'SB_ERR_DRAIN_TIMEOUT');
  await assert.rejects(slow, { code: 'SB_ERR_DRAIN_TIMEOUT' });
  await a.child.waitFor(/^drain-failed SB_ERR_DRAIN_TIMEOUT$/);
  assert.ok(a.child.lines.includes('aborted /hang SB_ERR_DRAIN_TIMEOUT'));
  assert.ok(a.child.lines.includes('aborted slow SB_ERR_DRAIN_TIMEOUT'));
  assert.ok(a.child.lines.includes('status closed SB_ERR_DRAIN_TIMEOUT'));
  assert.deepEqual(await a.child.exited, { code: 1, signal: null });
  assertNoReconnect(a.child, /^drain requested/);
});

test("a draining uplink's own call in flight still completes before it closes", async (t) => {
  const { sb, url } = await startServer(t);
  sb.callable('appSlow', async () => {
    await new Promise((resolve) => setTimeout(resolve, 300));
    return 'from the app';
  });
  const a = await spawnDrainUplink(t, url, { SB_NAME: 'A', SB_OWN_CALL: 'appSlow' });
  a.child.process.kill('SIGUSR2'); // calls appSlow, then drains at once
  await a.child.waitFor(/^drained$/, 20_000);
  const ownCall = a.child.lines.indexOf('own-call ok from the app');
  assert.ok(ownCall !== -1, a.child.lines.join('\n'));
  assert.ok(ownCall < a.child.lines.indexOf('drained'), 'the drain waited for it');
  assert.deepEqual(await a.child.exited, { code: 0, signal: null });
});

test('uplink.drain(): resolves at once when idle, refuses bad options, and the uplink stays closed', async (t) => {
  const { sb, url } = await startServer(t);
  const uplink = await connect({ url, key: SERVER_KEY, name: 'local' });
  t.after(() => uplink.close());
  uplink.callable('local', () => 1);
  await uplink.synced();
  const statuses: UplinkStatus[] = [];
  const drains: unknown[] = [];
  uplink.on('status', (status) => statuses.push(status));
  uplink.on('drain', (notice) => drains.push(notice));

  await assert.rejects(uplink.drain({ timeoutMs: 0 }), { code: 'SB_ERR_OPTIONS_INVALID' });
  await assert.rejects(uplink.drain({ timeoutMs: Number.NaN }), { code: 'SB_ERR_OPTIONS_INVALID' });
  const first = uplink.drain({ timeoutMs: 5_000 });
  assert.equal(uplink.drain(), first, 'a second drain() waits for the same one');
  await first;
  assert.deepEqual(drains, [{ reason: 'requested', timeoutMs: 5_000 }]);
  assert.deepEqual(statuses, [{ state: 'closed' }]);
  await assert.rejects(uplink.call('local'), { code: 'SB_ERR_CLIENT_CLOSED' });
  await until(
    () => sb.app.switchboard.hub.uplinks().length === 0,
    5_000,
    'the server to see it go',
  );
  await assert.rejects(sb.call('local'), { code: 'SB_ERR_NO_SUCH_FUNCTION' });
  await uplink.drain(); // after the end: nothing to do
});

test('protocol: drain → draining, registering refused while draining, and the server closes (4003) an uplink that never finishes', async (t) => {
  const { sb, wsUrl } = await startServer(t, { drainTimeoutMs: 100 });
  const raw = await helloClient(t, wsUrl, SERVER_KEY);
  raw.send({ type: 'register', id: 1, functions: [{ name: 'f' }] });
  assert.deepEqual(await raw.next(), { type: 'result', id: 1, value: { registered: 1 } });
  const pending = sb.call('f');
  pending.catch(() => undefined);
  const call = await raw.next();
  assert.equal(call.type, 'call');

  raw.send({ type: 'drain' }); // no timeoutMs: the server's drainTimeoutMs
  assert.deepEqual(await raw.next(), { type: 'draining', reason: 'requested', timeoutMs: 100 });
  await assert.rejects(sb.call('f'), { code: 'SB_ERR_NO_SUCH_FUNCTION' });
  raw.send({ type: 'register', id: 2, functions: [{ name: 'g' }] });
  const refused = await raw.next();
  assert.equal(refused.type, 'error');
  assert.equal(refused.type === 'error' && refused.error.code, 'SB_ERR_UPLINK_DRAINED');

  // It never answers `f` and never closes: the server does, after the deadline and a margin.
  const closed = await raw.closed;
  assert.equal(closed.code, CLOSE_CODES.DRAINED);
  assert.match(closed.reason, /^SB_ERR_DRAIN_TIMEOUT: /);
  await assert.rejects(pending, { code: 'SB_ERR_DRAIN_TIMEOUT' });
});

test('hub.disconnect() closes at once (4002) and fails the calls in flight with SB_ERR_UPLINK_DISCONNECTED', async (t) => {
  const { sb, wsUrl } = await startServer(t);
  const raw = await helloClient(t, wsUrl, SERVER_KEY);
  raw.send({ type: 'register', id: 1, functions: [{ name: 'f' }] });
  await raw.next();
  const pending = sb.call('f');
  pending.catch(() => undefined);
  await raw.next(); // the call
  const [uplink] = sb.app.switchboard.hub.uplinks();
  assert.equal(uplink?.name, 'raw');
  assert.equal(uplink.inFlight, 1);
  assert.equal(sb.app.switchboard.hub.disconnect(uplink.providerId), true);
  await assert.rejects(pending, { code: 'SB_ERR_UPLINK_DISCONNECTED' });
  const closed = await raw.closed;
  assert.equal(closed.code, CLOSE_CODES.KICKED);
  assert.match(closed.reason, /^SB_ERR_UPLINK_DISCONNECTED: /);
  assert.equal(sb.app.switchboard.hub.find(uplink.providerId), undefined);
});

test('the decode gate checks drain, draining and goaway frames', () => {
  const server = (frame: unknown) => decodeServerMessage(encodeValue(frame));
  const uplink = (frame: unknown) => decodeUplinkMessage(encodeValue(frame));
  assert.deepEqual(server({ type: 'draining', reason: 'admin', timeoutMs: 5 }), [
    { type: 'draining', reason: 'admin', timeoutMs: 5 },
  ]);
  assert.deepEqual(server({ type: 'goaway', graceMs: 0 }), [{ type: 'goaway', graceMs: 0 }]);
  assert.deepEqual(uplink({ type: 'drain', timeoutMs: 10 }), [{ type: 'drain', timeoutMs: 10 }]);
  assert.deepEqual(uplink({ type: 'drain' }), [{ type: 'drain' }]);
  for (const bad of [
    { type: 'draining', reason: 'bored', timeoutMs: 5 },
    { type: 'draining', reason: 'admin' },
    { type: 'draining', reason: 'admin', timeoutMs: 0 },
    { type: 'goaway' },
    { type: 'goaway', graceMs: -1 },
    { type: 'drain', timeoutMs: 10 }, // an uplink frame, not the server's
  ]) {
    assert.throws(() => server(bad), { code: 'SB_ERR_PROTO_BAD_FRAME' }, JSON.stringify(bad));
  }
  for (const bad of [
    { type: 'drain', timeoutMs: 0 },
    { type: 'drain', timeoutMs: 'soon' },
    { type: 'draining', reason: 'admin', timeoutMs: 5 }, // the server's frame
    { type: 'goaway', graceMs: 1 },
  ]) {
    assert.throws(() => uplink(bad), { code: 'SB_ERR_PROTO_BAD_FRAME' }, JSON.stringify(bad));
  }
});

test('a request picked for an uplink that drains while its body still arrives goes to the replacement', async (t) => {
  const { sb, url } = await startServer(t);
  const hub = sb.app.switchboard.hub;
  const spawn = async (name: string) => {
    const child = spawnScript(t, 'test/fixtures/upload-uplink.ts', {
      SB_URL: url,
      SB_KEY: SERVER_KEY,
      SB_NAME: name,
    });
    return { child, id: (await child.waitFor(/^ready /, 20_000)).slice('ready '.length) };
  };
  const a = await spawn('A');
  // Half a body: the door has chosen A and waits for the rest.
  const request = http.request(`${url}/_/api/upload`, {
    method: 'POST',
    headers: { 'content-type': 'application/octet-stream', 'content-length': '10' },
  });
  const answer = new Promise<{ status: number; body: string }>((resolve, reject) => {
    request.on('response', (response) => {
      let body = '';
      response.setEncoding('utf8');
      response.on('data', (chunk: string) => (body += chunk));
      response.on('end', () => resolve({ status: response.statusCode ?? 0, body }));
    });
    request.on('error', reject);
  });
  request.write('hello');
  await new Promise((resolve) => setTimeout(resolve, 200)); // the headers have reached the door
  await spawn('B');
  assert.equal(hub.drain(a.id), true);
  await a.child.waitFor(/^status closed SB_ERR_UPLINK_DRAINED$/, 20_000); // nothing was in flight
  request.end('world');
  assert.deepEqual(await answer, { status: 200, body: 'B 10' });
});
