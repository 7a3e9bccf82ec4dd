import assert from 'node:assert/strict';
import { test } from 'node:test';
import { connect } from '@switchboard/uplink';
import { call, startNode, untilServed, type Node } from './helpers/cluster.ts';
import { startNats } from './helpers/nats.ts';
import { SERVER_KEY } from './helpers/server.ts';

test('calls and HTTP requests cross servers; local providers first; large bodies both ways', async (t) => {
  const nats = await startNats(t);
  if (nats === undefined) return;
  const [a, b, c] = await Promise.all([
    startNode(t, nats.url, 'a', true),
    startNode(t, nats.url, 'b', false),
    startNode(t, nats.url, 'c', true),
  ]);
  await untilServed(b, 'on.a');
  await untilServed(b, 'on.c');
  assert.deepEqual(await call(b, 'on.a', [1]), { status: 200, body: { node: 'a', x: 1 } });
  assert.deepEqual(await call(b, 'on.c', [2]), { status: 200, body: { node: 'c', x: 2 } });
  // Every node serves `whoami` itself: never a hop.
  for (const node of [a, b, c]) assert.equal((await call(node, 'whoami', [])).body, node.name);
  // An endpoint served by a and c, reached through b's door, and through a's own (local first).
  const where = await fetch(`${b.url}/_/api/where/here`);
  assert.equal(where.status, 200);
  const served = (await where.json()) as { node: string; what: string };
  assert.ok(['a', 'c'].includes(served.node));
  assert.equal(served.what, 'here');
  for (let i = 0; i < 5; i++) {
    const local = (await (await fetch(`${a.url}/_/api/where/x`)).json()) as { node: string };
    assert.equal(local.node, 'a');
  }
  // 3 MiB up through b to a or c (streamed between servers), 5 MiB back.
  const body = Buffer.alloc(3 * 1024 * 1024, 1);
  const upload = await fetch(`${b.url}/_/api/where/upload`, {
    method: 'POST',
    headers: { 'content-type': 'application/octet-stream' },
    body,
  });
  assert.equal(upload.status, 200);
  assert.equal(((await upload.json()) as { length: number }).length, body.length);
  const uplink = await connect({ url: b.url, key: SERVER_KEY });
  t.after(() => uplink.close());
  const bytes = (await uplink.call('bytes', 5 * 1024 * 1024)) as Uint8Array;
  assert.equal(bytes.byteLength, 5 * 1024 * 1024);
  assert.ok(bytes.every((byte) => byte === 7));
  // The admin API shows the cluster: which server serves what, remote providers as node:<name>.
  const admin = (node: Node, path: string) =>
    fetch(`${node.url}/_/admin/api/v1/${path}`, {
      headers: { authorization: `Token ${node.token}` },
    }).then((response) => response.json() as Promise<Record<string, unknown>>);
  const cluster = (await admin(b, 'cluster/')) as {
    clustered: boolean;
    node: string;
    peers: Array<{ node: string; functions: string[] }>;
  };
  assert.equal(cluster.clustered, true);
  assert.equal(cluster.node, 'b');
  const peers = Object.fromEntries(cluster.peers.map((peer) => [peer.node, peer.functions]));
  assert.deepEqual(Object.keys(peers).sort(), ['a', 'c']);
  assert.ok(peers.a?.includes('on.a') && peers.a.includes('whoami'));
  const functions = (await admin(b, 'functions/')) as {
    objects: Array<{ name: string; providers: string[] }>;
  };
  const onA = functions.objects.find((item) => item.name === 'on.a');
  assert.deepEqual(onA?.providers, ['node:a']);
  // Unknown names keep their code across the cluster.
  const missing = await call(b, 'nobody.serves.this', []);
  assert.equal(missing.status, 404);
  assert.equal((missing.body as { code: string }).code, 'SB_ERR_NO_SUCH_FUNCTION');
});

test('an uplink on one server serves callers on another', async (t) => {
  const nats = await startNats(t);
  if (nats === undefined) return;
  const [a, b] = await Promise.all([
    startNode(t, nats.url, 'a', false),
    startNode(t, nats.url, 'b', false),
  ]);
  const uplink = await connect({ url: a.url, key: SERVER_KEY });
  t.after(() => uplink.close());
  uplink.callable('gpu.add', (x: number, y: number) => x + y);
  uplink.httpEndpoint('/gpu/:n', { methods: ['GET'] }, (req) => ({ n: req.params.n }));
  await uplink.synced();
  await untilServed(b, 'gpu.add');
  assert.deepEqual(await call(b, 'gpu.add', [2, 3]), { status: 200, body: 5 });
  const response = await fetch(`${b.url}/_/api/gpu/7`);
  assert.deepEqual(await response.json(), { n: '7' });
});

test('a server killed mid-call: its calls fail fast with 502, its functions leave, the others serve', async (t) => {
  const nats = await startNats(t);
  if (nats === undefined) return;
  const [a, b] = await Promise.all([
    startNode(t, nats.url, 'a', true),
    startNode(t, nats.url, 'b', false),
  ]);
  await untilServed(b, 'on.a');
  // 20 calls that a would answer in 20 s, well inside the 30 s deadline.
  const started = Date.now();
  const pending = Array.from({ length: 20 }, () => call(b, 'slow', [20_000]));
  await new Promise((resolve) => setTimeout(resolve, 300));
  a.child.process.kill('SIGKILL');
  const outcomes = await Promise.all(pending);
  const elapsed = Date.now() - started;
  for (const outcome of outcomes) {
    assert.equal(outcome.status, 502);
    assert.equal((outcome.body as { code: string }).code, 'SB_ERR_UPLINK_DISCONNECTED');
  }
  assert.ok(elapsed < 6_000, `the calls took ${elapsed} ms to fail`);
  // a's functions are gone from b's catalog; b itself is fine.
  const gone = await call(b, 'on.a', [1]);
  assert.equal((gone.body as { code: string }).code, 'SB_ERR_NO_SUCH_FUNCTION');
  assert.equal((await call(b, 'whoami', [])).body, 'b');
});

test('NATS lost: each server serves its own; calls cross again once NATS is back', async (t) => {
  const nats = await startNats(t);
  if (nats === undefined) return;
  const [a, b] = await Promise.all([
    startNode(t, nats.url, 'a', true),
    startNode(t, nats.url, 'b', false),
  ]);
  await untilServed(b, 'on.a');
  // Just joined, a server says `joining` (503) for its first two heartbeats at least.
  let answer = await fetch(`${b.url}/readyz`);
  for (let tries = 0; answer.status === 503 && tries < 50; tries++) {
    assert.equal(((await answer.json()) as { status: string }).status, 'joining');
    await new Promise((resolve) => setTimeout(resolve, 100));
    answer = await fetch(`${b.url}/readyz`);
  }
  const ready = (await answer.json()) as Record<string, unknown>;
  assert.deepEqual(ready, {
    status: 'ready',
    cluster: { node: 'b', connected: true, peers: ['a'] },
  });
  await nats.stop();
  assert.equal((await call(a, 'whoami', [])).body, 'a');
  assert.deepEqual(await call(a, 'on.a', [3]), { status: 200, body: { node: 'a', x: 3 } });
  // Without NATS, b loses a within the member expiry.
  const start = Date.now();
  for (;;) {
    const { status } = await call(b, 'on.a', [0]);
    if (status === 404) break;
    assert.ok(Date.now() - start < 10_000, 'a never left b');
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  const degraded = await fetch(`${b.url}/readyz`);
  assert.equal(degraded.status, 200);
  assert.equal(((await degraded.json()) as { status: string }).status, 'degraded');
  await nats.restart();
  await untilServed(b, 'on.a', 20_000);
  assert.deepEqual(await call(b, 'on.a', [4]), { status: 200, body: { node: 'a', x: 4 } });
});

test('an uplink given several servers moves to the next when its server stops', async (t) => {
  const nats = await startNats(t);
  if (nats === undefined) return;
  const [a, b, c] = await Promise.all([
    startNode(t, nats.url, 'a', false),
    startNode(t, nats.url, 'b', false),
    startNode(t, nats.url, 'c', false),
  ]);
  const uplink = await connect({
    url: [a.url, b.url],
    key: SERVER_KEY,
    reconnect: { initialDelayMs: 50, maxDelayMs: 200 },
  });
  t.after(() => uplink.close());
  uplink.callable('moving', () => 'here');
  await uplink.synced();
  await untilServed(c, 'moving');
  a.child.process.kill('SIGTERM');
  await a.child.exited;
  // It reconnects to b and registers again; c reaches it there.
  const start = Date.now();
  for (;;) {
    const { status, body } = await call(c, 'moving', []);
    if (status === 200) {
      assert.equal(body, 'here');
      break;
    }
    assert.ok(Date.now() - start < 10_000, 'the uplink never came back through b');
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
});
