import assert from 'node:assert/strict';
import { request } from 'node:http';
import { connect } from 'node:net';
import { test, type TestContext } from 'node:test';
import WebSocket from 'ws';
import { encodeValue } from '@switchboard/shared';
import { spawnScript, spawnUplink } from './helpers/child.ts';
import { decodeBombs } from './helpers/hostile-frames.ts';
import {
  codeTotals,
  fuzzAuthenticated,
  fuzzUnauthenticated,
  rssMiB,
  steadyCaller,
  watchHealth,
} from './helpers/hostile-driver.ts';
import { CLIENT_KEY, SERVER_KEY, makeDataDir, startServer } from './helpers/server.ts';

const MiB = 1024 * 1024;
/** The acceptance bounds of issue 14. */
const MAX_HEALTH_MS = 500;
const MAX_RSS_GROWTH_MIB = 200;

/** A server in its own process, so its RSS and event loop are measured alone. */
async function hostileServer(t: TestContext, options: object = {}) {
  const dataDir = await makeDataDir(t);
  const child = spawnScript(t, 'test/fixtures/hostile-server.ts', {
    SB_DATA_DIR: dataDir,
    SB_SERVER_KEY: SERVER_KEY,
    SB_CLIENT_KEY: CLIENT_KEY,
    SB_OPTIONS: JSON.stringify(options),
  });
  const url = (await child.waitFor(/^listening /, 30_000)).slice('listening '.length);
  return { url, wsUrl: `${url.replace(/^http/, 'ws')}/_/uplink`, pid: child.pid };
}

function codeOf(body: string): unknown {
  return (JSON.parse(body) as { code?: unknown }).code;
}

/** Sends one message as the first thing on an unauthenticated connection; resolves with the close. */
function firstMessage(wsUrl: string, bytes: Buffer): Promise<{ code: number; reason: string }> {
  const ws = new WebSocket(wsUrl);
  ws.on('error', () => undefined);
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      ws.terminate();
      reject(new Error('no close within 10 s'));
    }, 10_000);
    ws.once('open', () => ws.send(bytes));
    ws.once('close', (code, reason) => {
      clearTimeout(timer);
      resolve({ code, reason: reason.toString() });
    });
  });
}

/** POSTs `size` bytes (declared, or chunked) and resolves with the status and body. */
function postBody(
  url: string,
  path: string,
  size: number,
  declared: boolean,
): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request(
      `${url}${path}`,
      {
        method: 'POST',
        headers: {
          'content-type': 'application/msgpack',
          ...(declared ? { 'content-length': String(size) } : {}),
        },
      },
      (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => (body += chunk));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      },
    );
    let refused = false;
    req.on('error', (error) => {
      if (!refused) reject(error); // after the answer, the server may cut the rest of the upload
    });
    // An array of empty maps: the decode bomb, as a body. Written in 1 MiB pieces until refused.
    const piece = Buffer.alloc(MiB, 0x80);
    piece[0] = 0xdd;
    let sent = 0;
    const more = (): void => {
      while (sent < size && !refused) {
        const part = piece.subarray(0, Math.min(MiB, size - sent));
        sent += part.length;
        if (!req.write(part)) {
          req.once('drain', more);
          return;
        }
      }
      if (sent >= size) req.end();
    };
    req.on('response', () => (refused = true)); // answered early: stop sending
    more();
  });
}

/**
 * Watches a server process while an attack runs: `/healthz` latency and peak RSS. `check()`
 * stops watching and asserts the acceptance bounds.
 */
async function watchServer(t: TestContext, server: { url: string; pid: number }) {
  const before = rssMiB(server.pid);
  let peak = before;
  const sampler = setInterval(() => (peak = Math.max(peak, rssMiB(server.pid))), 20);
  t.after(() => clearInterval(sampler));
  const health = await watchHealth(server.url);
  return {
    async check(): Promise<void> {
      const figures = await health.stop();
      clearInterval(sampler);
      t.diagnostic(
        `healthz: ${figures.checks} checks, slowest ${figures.maxMs.toFixed(1)} ms; RSS ${before.toFixed(0)} → peak ${peak.toFixed(0)} MiB`,
      );
      assert.equal(figures.failures, 0);
      assert.ok(figures.maxMs < MAX_HEALTH_MS, `slowest /healthz ${figures.maxMs} ms`);
      assert.ok(peak - before < MAX_RSS_GROWTH_MIB, `RSS grew ${peak - before} MiB`);
    },
  };
}

test('unauthenticated 32 MiB WebSocket messages and decode bombs: a coded close, /healthz under 500 ms, RSS under +200 MiB', async (t) => {
  const server = await hostileServer(t);
  // Built before the watch starts: this process's own work must not count as the server's.
  const attacks = {
    ...decodeBombs(31 * MiB),
    '32 MiB of zeros': Buffer.alloc(32 * MiB),
    '8 MiB of Error extensions': decodeBombs(8 * MiB)['array of Error extensions']!,
  };
  const watch = await watchServer(t, server);
  for (const [name, bytes] of Object.entries(attacks)) {
    const closed = await firstMessage(server.wsUrl, bytes);
    if (bytes.length > 8 * 1024) {
      assert.equal(closed.code, 1009, `${name}: ${closed.reason}`);
      assert.match(closed.reason, /^SB_ERR_PROTO_FRAME_TOO_LARGE: /, name);
    } else {
      assert.ok([4000, 4001].includes(closed.code), `${name}: ${closed.code} ${closed.reason}`);
      assert.match(closed.reason, /^SB_ERR_[A-Z_]+: /, name);
    }
  }
  await watch.check();
});

test('anonymous 20 MiB /_/call bodies are refused from the headers: 413 or 404, /healthz under 500 ms, RSS under +200 MiB', async (t) => {
  const server = await hostileServer(t);
  const watch = await watchServer(t, server);
  const size = 20 * MiB;
  const declared = await postBody(server.url, '/_/call/open.echo', size, true);
  assert.equal(declared.status, 413);
  assert.equal(codeOf(declared.body), 'SB_ERR_HTTP_BODY_TOO_LARGE');
  const chunked = await postBody(server.url, '/_/call/open.echo', size, false);
  assert.equal(chunked.status, 413);
  assert.equal(codeOf(chunked.body), 'SB_ERR_HTTP_BODY_TOO_LARGE');
  // Names it may not call and names that do not exist: the same answer, before any body.
  for (const name of ['sb.users.list', 'does.not.exist']) {
    const refused = await postBody(server.url, `/_/call/${name}`, size, true);
    assert.equal(refused.status, 404, name);
    assert.equal(codeOf(refused.body), 'SB_ERR_NO_SUCH_FUNCTION', name);
  }
  await watch.check();
});

test('authenticated decode bombs are refused with SB_ERR_PROTO_BAD_FRAME without stalling the server', async (t) => {
  const server = await hostileServer(t);
  // A server key may send 32 MiB messages, a client key 1 MiB. 16 MiB bombs for the server key:
  // 16 times its value budget, while the message itself (held twice by ws while it is joined)
  // leaves the RSS bound room on a busy machine.
  const rounds = [
    { key: SERVER_KEY, bombs: decodeBombs(16 * MiB) },
    { key: CLIENT_KEY, bombs: decodeBombs(MiB - 64) },
  ];
  const watch = await watchServer(t, server);
  for (const { key, bombs } of rounds) {
    for (const [name, bytes] of Object.entries(bombs)) {
      const ws = new WebSocket(server.wsUrl, { headers: { authorization: `Bearer ${key}` } });
      ws.on('error', () => undefined);
      const closed = await new Promise<{ code: number; reason: string }>((resolve) => {
        ws.once('open', () => ws.send(encodeValue({ type: 'hello', protocol: 1 })));
        ws.once('close', (code, reason) => resolve({ code, reason: reason.toString() }));
        ws.once('message', () => ws.send(bytes)); // after the welcome
      });
      assert.equal(closed.code, 4000, `${name}: ${closed.code} ${closed.reason}`);
      assert.match(closed.reason, /^SB_ERR_PROTO_BAD_FRAME: /, name);
    }
  }
  await watch.check();
});

test('20,000+ hostile frames, authenticated and not: every refusal coded, /healthz under 500 ms, a well-behaved uplink sees no failure', async (t) => {
  const server = await hostileServer(t, {
    keyFailureThrottle: { max: 1_000_000, windowMs: 60_000 },
  });
  await spawnUplink(t, server.url, SERVER_KEY, { SB_NAME: 'well-behaved' });
  const before = rssMiB(server.pid);
  const health = await watchHealth(server.url);
  const caller = steadyCaller(server.url, SERVER_KEY);
  const [asServer, asClient, unauthenticated] = await Promise.all([
    fuzzAuthenticated({
      wsUrl: server.wsUrl,
      key: SERVER_KEY,
      frames: 10_000,
      seed: 1,
      deadlineMs: 60_000,
    }),
    fuzzAuthenticated({
      wsUrl: server.wsUrl,
      key: CLIENT_KEY,
      frames: 10_000,
      seed: 2,
      deadlineMs: 60_000,
    }),
    fuzzUnauthenticated({ wsUrl: server.wsUrl, count: 400, seed: 3, deadlineMs: 60_000 }),
  ]);
  const calls = await caller.stop();
  const figures = await health.stop();
  const after = rssMiB(server.pid);
  const frames = asServer.frames + asClient.frames + unauthenticated.frames;
  t.diagnostic(
    `${frames} frames (${asServer.connections + asClient.connections + unauthenticated.connections} connections); ` +
      `healthz slowest ${figures.maxMs.toFixed(1)} ms over ${figures.checks} checks; ` +
      `${calls.calls} well-behaved calls; RSS ${before.toFixed(0)} → ${after.toFixed(0)} MiB`,
  );
  t.diagnostic(`codes: ${JSON.stringify(codeTotals(asServer, asClient, unauthenticated))}`);
  assert.ok(frames >= 20_000, `only ${frames} frames were sent`);
  assert.deepEqual([...asServer.uncoded, ...asClient.uncoded, ...unauthenticated.uncoded], []);
  assert.deepEqual(calls.failures, []);
  assert.ok(calls.calls > 50, `only ${calls.calls} well-behaved calls`);
  assert.equal(figures.failures, 0);
  assert.ok(figures.maxMs < MAX_HEALTH_MS, `slowest /healthz ${figures.maxMs} ms`);
  assert.ok(after - before < MAX_RSS_GROWTH_MIB, `RSS grew ${after - before} MiB`);
});

test('wrong keys are throttled per address: refused unseen with 429 / SB_ERR_RATE_LIMITED once used up', async (t) => {
  const { url, wsUrl } = await startServer(t, { keyFailureThrottle: { max: 3, windowMs: 60_000 } });
  const upgrade = (key: string) =>
    new Promise<number>((resolve) => {
      const ws = new WebSocket(wsUrl, { headers: { authorization: `Bearer ${key}` } });
      ws.on('unexpected-response', (_req, res) => {
        resolve(res.statusCode ?? 0);
        res.resume();
      });
      ws.on('open', () => {
        ws.close();
        resolve(101);
      });
      ws.on('error', () => undefined);
    });
  assert.equal(await upgrade(SERVER_KEY), 101);
  for (let i = 0; i < 3; i++) assert.equal(await upgrade('sbk_s_wrong-wrong-wrong-wrong'), 401);
  assert.equal(await upgrade('sbk_s_wrong-wrong-wrong-wrong'), 429);
  assert.equal(
    await upgrade(SERVER_KEY),
    429,
    'the address is refused before the key is looked at',
  );
  const call = await fetch(`${url}/_/call/x`, {
    method: 'POST',
    headers: { authorization: `Bearer ${SERVER_KEY}` },
  });
  assert.equal(call.status, 429);
  assert.ok(Number(call.headers.get('retry-after')) >= 1);
  assert.equal(((await call.json()) as { code: string }).code, 'SB_ERR_RATE_LIMITED');
});

test('refused upgrades neither hold their sockets nor count as waiting for hello', async (t) => {
  const { url, wsUrl } = await startServer(t);
  const { port } = new URL(url);
  /** Sends a raw upgrade request; resolves with the status line once the server ends the socket. */
  const rawUpgrade = (headers: string[]) =>
    new Promise<string>((resolve, reject) => {
      const socket = connect(Number(port), '127.0.0.1');
      let text = '';
      socket.setEncoding('utf8');
      socket.on('data', (chunk: string) => (text += chunk));
      socket.on('error', reject);
      socket.on('close', () => resolve(text.split('\r\n', 1)[0] ?? ''));
      // The client never ends its side: the server must close the socket by itself.
      socket.write(['GET /_/uplink HTTP/1.1', 'Host: x', ...headers, '', ''].join('\r\n'));
    });
  // ws refuses these itself (no Sec-WebSocket-Key): 70 of them, more than may wait for a hello.
  for (let i = 0; i < 70; i++) {
    const status = await rawUpgrade(['Connection: Upgrade', 'Upgrade: websocket']);
    assert.match(status, /^HTTP\/1\.1 400/);
  }
  const wrongKey = await rawUpgrade([
    'Connection: Upgrade',
    'Upgrade: websocket',
    'Sec-WebSocket-Version: 13',
    'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==',
    `Authorization: Bearer sbk_s_wrong-wrong-wrong-wrong`,
  ]);
  assert.match(wrongKey, /^HTTP\/1\.1 401/);
  // The address is not locked out: a proper uplink still connects.
  const ws = new WebSocket(wsUrl, { headers: { authorization: `Bearer ${SERVER_KEY}` } });
  await new Promise<void>((resolve, reject) => {
    ws.once('open', () => resolve());
    ws.once('unexpected-response', (_req, res) => reject(new Error(`status ${res.statusCode}`)));
  });
  ws.terminate();
});
