// Issue 21, schedules in a cluster: every server shares the schedules, and each run is launched
// by one server (claimed in JetStream KV). Real nats-server, real servers in their own processes.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { connect } from 'nats';
import { admin, eventually, startNode, type Node } from './helpers/cluster.ts';
import { startNats } from './helpers/nats.ts';

const ran = (node: Node) => node.child.lines.filter((line) => line === `RAN ${node.name}`).length;

test('in a cluster each scheduled run is launched once, by one server', async (t) => {
  const nats = await startNats(t);
  if (nats === undefined) return;
  const [a, b] = await Promise.all([
    startNode(t, nats.url, 'a', false),
    startNode(t, nats.url, 'b', false),
  ]);
  const made = await admin(a, 'POST', 'schedules/', {
    name: 'everywhere',
    cron: '* * * * * *',
    function: 'sched.run',
  });
  assert.equal(made.status, 201);
  const id = made.body.id as string;
  await eventually(
    'the schedule reaches b',
    async () => (await admin(b, 'GET', `schedules/${id}/`)).status === 200,
  );
  await eventually('six runs', () => Promise.resolve(ran(a) + ran(b) >= 6), 20_000);
  assert.equal((await admin(b, 'DELETE', `schedules/${id}/`)).status, 204);
  await eventually(
    'the remove reaches a',
    async () => (await admin(a, 'GET', `schedules/${id}/`)).status === 404,
  );
  await new Promise((resolve) => setTimeout(resolve, 1_000)); // runs already launched end

  // One claim per fire time; each claim launched (once) on the server that won it.
  const nc = await connect({ servers: nats.url });
  t.after(() => nc.close());
  const kv = await nc.jetstream().views.kv('switchboard_schedule_runs');
  const keys: string[] = [];
  for await (const key of await kv.keys()) if (key.startsWith(`sched.${id}.`)) keys.push(key);
  const won = new Map<string, number>();
  const fireTimes: number[] = [];
  for (const key of keys) {
    fireTimes.push(Number(key.split('.').at(-1)));
    const { node } = (await kv.get(key))!.json<{ node: string }>();
    won.set(node, (won.get(node) ?? 0) + 1);
  }
  assert.ok(fireTimes.length >= 6, `${fireTimes.length} fire times claimed`);
  assert.ok(fireTimes.every((at) => at % 1000 === 0));
  assert.equal(new Set(fireTimes).size, fireTimes.length);
  const runs = ran(a) + ran(b);
  for (const node of [a, b]) {
    // A run claimed as the schedule was removed is not launched: at most one such.
    const claims = won.get(node.name) ?? 0;
    assert.ok(ran(node) <= claims, `${node.name}: ${ran(node)} runs, ${claims} claims`);
  }
  assert.ok(fireTimes.length - runs <= 1, `${runs} runs for ${fireTimes.length} fire times`);
});
