// Issue 18: rate limits hold per cluster (docs/cluster.md, "Rate limits"): hits counted on one
// server count on the others too. Real nats-server, real servers.
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { test } from 'node:test';
import { startNode, type Node } from './helpers/cluster.ts';
import { startNats } from './helpers/nats.ts';

/** The fixture's /limited: 6 requests per hour-long window, clock-aligned. */
const WINDOW_MS = 3_600_000;
/** Hits go out every 100 ms; a second is ample for them to be counted everywhere. */
const SHARED_WITHIN_MS = 1_000;

async function limited(node: Node): Promise<{ status: number; retryAfter: string | null }> {
  const response = await fetch(`${node.url}/_/api/limited`);
  await response.arrayBuffer();
  return { status: response.status, retryAfter: response.headers.get('retry-after') };
}

test("an endpoint's rate limit holds across the servers of a cluster", async (t) => {
  const nats = await startNats(t);
  if (nats === undefined) return;
  const [a, b] = await Promise.all([
    startNode(t, nats.url, 'a', false),
    startNode(t, nats.url, 'b', false),
  ]);
  // Windows are aligned to the clock: do not start just before one ends.
  const left = WINDOW_MS - (Date.now() % WINDOW_MS);
  if (left < 30_000) await sleep(left + 100);

  for (let i = 0; i < 4; i++) assert.equal((await limited(a)).status, 200, `hit ${i + 1} on a`);
  await sleep(SHARED_WITHIN_MS);
  // b adds a's 4: two more pass, the seventh hit in the cluster is refused.
  assert.equal((await limited(b)).status, 200);
  assert.equal((await limited(b)).status, 200);
  const refused = await limited(b);
  assert.equal(refused.status, 429);
  assert.ok(Number(refused.retryAfter) > 0, `Retry-After ${refused.retryAfter}`);
  await sleep(SHARED_WITHIN_MS);
  // And a has heard of b's hits: it refuses too.
  const onA = await limited(a);
  assert.equal(onA.status, 429);
  const body = (await (await fetch(`${a.url}/_/api/limited`)).json()) as { code: string };
  assert.equal(body.code, 'SB_ERR_RATE_LIMITED');
});
