import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { test, type TestContext } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { startBalancedLoad, type Balancer, type LoadCounts } from './helpers/balancer.ts';
import { spawnScript, type Child } from './helpers/child.ts';
import { freePort, startNats } from './helpers/nats.ts';
import { SERVER_KEY } from './helpers/server.ts';

// Three servers on one nats-server, an uplink (a real process) given all three URLs, HTTP load
// through a model load balancer (test/helpers/balancer.ts). docs/cluster.md, "Rolling restart".

interface Node {
  url: string;
  child: Child;
}

interface Place {
  name: string;
  port: number;
  dataDir: string;
}

async function places(t: TestContext): Promise<Place[]> {
  const result: Place[] = [];
  for (const name of ['a', 'b', 'c']) {
    const dataDir = await mkdtemp(path.join(tmpdir(), `sb-roll-${name}-`));
    t.after(() => rm(dataDir, { recursive: true, force: true }));
    result.push({ name, port: await freePort(), dataDir });
  }
  return result;
}

/** A server of the cluster at `place` (a restart comes back with the same name, port and data). */
async function startNode(t: TestContext, natsUrl: string, place: Place): Promise<Node> {
  const child = spawnScript(t, 'test/fixtures/cluster-node.ts', {
    NATS_URL: natsUrl,
    NODE_NAME: place.name,
    SERVE: '0',
    DATA_DIR: place.dataDir,
    PORT: String(place.port),
  });
  const line = await child.waitFor(/^READY /, 20_000);
  return { url: line.slice('READY '.length), child };
}

function startUplink(t: TestContext, urls: string[]): Child {
  return spawnScript(t, 'test/fixtures/roll-uplink.ts', {
    SB_URLS: urls.join(','),
    SB_KEY: SERVER_KEY,
    SB_DELAY_MS: '5',
  });
}

/** Waits until `node` reaches the uplink's function (its catalog has spread there). */
async function untilServed(node: Node): Promise<void> {
  const start = Date.now();
  for (;;) {
    const response = await fetch(`${node.url}/_/call/roll.echo`, {
      method: 'POST',
      headers: { authorization: `Bearer ${SERVER_KEY}`, 'content-type': 'application/json' },
      body: '[1]',
    });
    await response.body?.cancel();
    if (response.status === 200) return;
    if (Date.now() - start > 15_000) throw new Error(`roll.echo never reached ${node.url}`);
    await sleep(50);
  }
}

async function until(what: string, check: () => boolean, timeoutMs = 15_000): Promise<void> {
  const start = Date.now();
  while (!check()) {
    if (Date.now() - start > timeoutMs) throw new Error(`timed out waiting for ${what}`);
    await sleep(25);
  }
}

/** Waits until requests through every server in rotation succeed (the catalogs have spread). */
async function untilServedEverywhere(balancer: Balancer, servers: number): Promise<void> {
  await until(`${servers} servers in rotation`, () => balancer.rotation().length === servers);
  const before = balancer.counts().ok;
  await until('answers', () => balancer.counts().ok > before + 50);
}

function report(t: TestContext, what: string, counts: LoadCounts): void {
  t.diagnostic(
    `${what}: ${counts.total} requests, ${counts.ok} ok, failed ${JSON.stringify([...counts.failed])}, ` +
      `${counts.hung} hung, ${counts.retried} sent again by the balancer, slowest ${counts.slowestMs} ms`,
  );
}

test('rolling restart of all three servers under load: no request fails, none hangs', async (t) => {
  const nats = await startNats(t);
  if (nats === undefined) return;
  const at = await places(t);
  const nodes = await Promise.all(at.map((place) => startNode(t, nats.url, place)));
  const urls = nodes.map((node) => node.url);
  const uplink = startUplink(t, urls);
  await uplink.waitFor(/^ready /, 20_000);
  for (const node of nodes) await untilServed(node);
  const balancer = startBalancedLoad(urls, SERVER_KEY, 8);
  t.after(() => balancer.stop());
  await untilServedEverywhere(balancer, 3);

  for (let i = 0; i < nodes.length; i++) {
    const node = nodes[i]!;
    // The orchestrator takes the server out of the balancer, then signals it.
    balancer.hold(node.url, true);
    node.child.process.kill('SIGTERM');
    assert.deepEqual(await node.child.exited, { code: 0, signal: null });
    assert.ok(node.child.lines.includes('SHUTDOWN clean'), `${at[i]!.name} shut down clean`);
    nodes[i] = await startNode(t, nats.url, at[i]!);
    balancer.hold(node.url, false);
    await untilServedEverywhere(balancer, 3);
  }
  const counts = await balancer.stop();
  report(t, 'rolling restart', counts);
  // The uplink moved three times (a → b → c → a), never closed.
  assert.equal(uplink.lines.filter((line) => line.startsWith('goaway')).length, 3);
  assert.ok(!uplink.lines.some((line) => line.startsWith('status closed')), 'the uplink closed');
  assert.equal(counts.hung, 0);
  assert.deepEqual([...counts.failed], []);
  assert.ok(counts.ok > 300, `only ${counts.ok} requests went through`);
});

test('SIGKILL of the server the uplink is on, load through the others: every request answered, fast; then all succeed', async (t) => {
  const nats = await startNats(t);
  if (nats === undefined) return;
  const at = await places(t);
  const [a, b, c] = await Promise.all(at.map((place) => startNode(t, nats.url, place)));
  const uplink = startUplink(t, [a!.url, b!.url, c!.url]);
  await uplink.waitFor(/^ready /, 20_000);
  for (const node of [b!, c!]) await untilServed(node);
  const balancer = startBalancedLoad([b!.url, c!.url], SERVER_KEY, 8);
  t.after(() => balancer.stop());
  await untilServedEverywhere(balancer, 2);

  a!.child.process.kill('SIGKILL');
  await a!.child.exited;
  // The uplink reconnects to b at once; a's calls in flight fail when a is missed (2 s).
  await uplink.waitFor(/^status connected/, 10_000);
  await sleep(3_000);
  const settled = balancer.counts();
  await sleep(1_500);
  const counts = await balancer.stop();
  report(t, 'SIGKILL', counts);
  assert.equal(counts.hung, 0);
  for (const key of counts.failed.keys()) assert.equal(key, '502 SB_ERR_UPLINK_DISCONNECTED');
  assert.ok(counts.slowestMs < 5_000, `an answer took ${counts.slowestMs} ms`);
  // Once the uplink is on b and a is forgotten, every request succeeds.
  const failedLater = [...counts.failed.values()].reduce((sum, n) => sum + n, 0);
  const failedBefore = [...settled.failed.values()].reduce((sum, n) => sum + n, 0);
  assert.equal(failedLater - failedBefore, 0);
  assert.ok(counts.ok - settled.ok > 100, `only ${counts.ok - settled.ok} answers at the end`);
});
