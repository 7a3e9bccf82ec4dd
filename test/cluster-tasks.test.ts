// Issue 21: background tasks in a cluster (docs/cluster.md, "Tasks"): a task launched on one
// server and run by an uplink on another, read, waited for and killed from either, and a task
// whose server dies. Real nats-server, real server processes, a real uplink process.
import assert from 'node:assert/strict';
import { test, type TestContext } from 'node:test';
import { spawnScript, type Child } from './helpers/child.ts';
import { eventually, startNode, type Node } from './helpers/cluster.ts';
import type { Json } from './helpers/http-client.ts';
import { startNats } from './helpers/nats.ts';
import { SERVER_KEY } from './helpers/server.ts';
import { interruptDeparted, type ClusterTasks } from '../server/src/cluster/cluster-tasks.ts';
import { RelayedTasks } from '../server/src/tasks/relayed-tasks.ts';

const AUTH = { authorization: `Bearer ${SERVER_KEY}` };

/** Servers a and b (neither serves anything of its own) and the task uplink on b. */
async function twoServers(
  t: TestContext,
): Promise<{ a: Node; b: Node; uplink: Child } | undefined> {
  const nats = await startNats(t);
  if (nats === undefined) return undefined;
  const [a, b] = await Promise.all([
    startNode(t, nats.url, 'a', false),
    startNode(t, nats.url, 'b', false),
  ]);
  const uplink = spawnScript(t, 'test/fixtures/task-uplink.ts', {
    SB_URL: b.url,
    SB_KEY: SERVER_KEY,
  });
  await uplink.waitFor(/^ready /, 20_000);
  return { a, b, uplink };
}

/** Launches `name` on `node` once it knows the function (its catalog comes with heartbeats). */
async function launch(node: Node, name: string, args: unknown[]): Promise<string> {
  let id = '';
  await eventually(`${name} launched on ${node.name}`, async () => {
    const response = await fetch(`${node.url}/_/tasks/${name}`, {
      method: 'POST',
      headers: { ...AUTH, 'content-type': 'application/json' },
      body: JSON.stringify(args),
    });
    if (response.status !== 202) return false;
    id = ((await response.json()) as { id: string }).id;
    return true;
  });
  return id;
}

async function getTask(node: Node, id: string, query = ''): Promise<Json> {
  const response = await fetch(`${node.url}/_/tasks/${id}${query}`, { headers: AUTH });
  assert.equal(response.status, 200, `${node.name}: ${await response.clone().text()}`);
  return (await response.json()) as Json;
}

/** Waits until `node` sees the task pass `check`; returns what it saw. */
async function until(node: Node, id: string, what: string, check: (task: Json) => boolean) {
  let seen: Json = {};
  await eventually(
    `${what} on ${node.name}`,
    async () => {
      const response = await fetch(`${node.url}/_/tasks/${id}`, { headers: AUTH });
      if (response.status !== 200) return false;
      seen = (await response.json()) as Json;
      return check(seen);
    },
    15_000,
  );
  return seen;
}

test('a task launched on one server and run by an uplink on another: its state and result read from both', async (t) => {
  const servers = await twoServers(t);
  if (servers === undefined) return;
  const { a, b } = servers;
  const id = await launch(a, 'job.progress', [6, 300]);

  // The uplink's setState on b reaches a, which owns the task; the record reaches b.
  const onA = await until(
    a,
    id,
    'a state',
    (task) => (task.state as Json | null)?.step !== undefined,
  );
  assert.equal(onA.status, 'running');
  assert.equal(onA.node, 'a');
  assert.equal(onA.provider, 'node:b');
  assert.equal((onA.state as Json).of, 6);
  const onB = await until(
    b,
    id,
    'a state',
    (task) => (task.state as Json | null)?.step !== undefined,
  );
  assert.equal(onB.node, 'a');

  // Waited for on b, the server that does not own it (it reads the shared record).
  const ended = await getTask(b, id, '?waitMs=20000');
  assert.equal(ended.status, 'completed');
  assert.deepEqual(ended.result, { done: 6, task: id });
  assert.deepEqual(ended.state, { step: 6, of: 6 });
  const onAEnded = await getTask(a, id);
  assert.equal(onAEnded.status, 'completed');
  assert.deepEqual(onAEnded.result, { done: 6, task: id });
});

test("a task killed from the server that does not own it: the uplink's signal fires, killed everywhere", async (t) => {
  const servers = await twoServers(t);
  if (servers === undefined) return;
  const { a, b, uplink } = servers;
  const id = await launch(a, 'job.forever', []);
  await until(b, id, 'started', (task) => task.state === 'started');

  const response = await fetch(`${b.url}/_/tasks/${id}`, { method: 'DELETE', headers: AUTH });
  assert.equal(response.status, 200);
  await uplink.waitFor(new RegExp(`^signal ${id}$`), 15_000);
  for (const node of [a, b]) {
    const killed = await until(node, id, 'killed', (task) => task.status === 'killed');
    assert.equal((killed.error as Json).code, 'SB_ERR_TASK_KILLED');
    assert.equal(killed.state, 'started');
  }
  // Killing it again anywhere changes nothing.
  const again = await fetch(`${a.url}/_/tasks/${id}`, { method: 'DELETE', headers: AUTH });
  assert.equal(((await again.json()) as Json).status, 'killed');
});

test('the server that owns a task is SIGKILLed: the survivor marks it failed SB_ERR_TASK_INTERRUPTED', async (t) => {
  const servers = await twoServers(t);
  if (servers === undefined) return;
  const { a, b, uplink } = servers;
  const id = await launch(a, 'job.forever', []);
  await until(b, id, 'started', (task) => task.state === 'started');

  a.child.process.kill('SIGKILL');
  // b drops a after its silence: the call a sent is cancelled where it runs...
  await uplink.waitFor(new RegExp(`^signal ${id}$`), 15_000);
  // ...and the task a can no longer end ends on b.
  const failed = await until(b, id, 'interrupted', (task) => task.status === 'failed');
  assert.equal((failed.error as Json).code, 'SB_ERR_TASK_INTERRUPTED');
  assert.equal(failed.node, 'a');
  assert.equal(typeof failed.endedAt, 'string');
});

test('the tasks of servers that left are ended by one survivor, the first by name', () => {
  const interrupted: string[] = [];
  const tasks: ClusterTasks = {
    relayed: new RelayedTasks(),
    ownersOfUnfinished: () => ['a', 'b', 'c', 'd'],
    interrupt: (node) => {
      interrupted.push(node);
      return 1;
    },
  };
  // b and d are gone; a, c and e remain: only a acts, for both.
  assert.deepEqual(interruptDeparted('c', ['a', 'e'], tasks), []);
  assert.deepEqual(interruptDeparted('e', ['a', 'c'], tasks), []);
  assert.deepEqual(interruptDeparted('a', ['c', 'e'], tasks), ['b', 'd']);
  assert.deepEqual(interrupted, ['b', 'd']);
});

test('a relayed task takes its state from the uplink running its call only, while it runs', async () => {
  const relayed = new RelayedTasks();
  const sent: unknown[] = [];
  const done = relayed.add({
    id: 'tsk_relayed',
    provider: 'conn-1',
    setState: (value) => {
      sent.push(value);
      return Promise.resolve();
    },
  });
  await relayed.setState('tsk_relayed', 1, { kind: 'uplink', connectionId: 'conn-1' });
  await assert.rejects(
    relayed.setState('tsk_relayed', 2, { kind: 'uplink', connectionId: 'conn-2' })!,
    { code: 'SB_ERR_NO_SUCH_TASK' },
  );
  done();
  assert.equal(relayed.setState('tsk_relayed', 3, { kind: 'app' }), undefined);
  assert.deepEqual(sent, [1]);
});
