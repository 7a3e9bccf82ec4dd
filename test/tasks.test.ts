import assert from 'node:assert/strict';
import { test, type TestContext } from 'node:test';
import { getTaskContext, type SwitchboardError } from '@switchboard/shared';
import { spawnScript, type Child } from './helpers/child.ts';
import { expectError, type Json } from './helpers/http-client.ts';
import {
  CLIENT_KEY,
  SERVER_KEY,
  startServer,
  until,
  untilValue,
  type TestServer,
} from './helpers/server.ts';

const FIXTURE = 'test/fixtures/task-uplink.ts';
const AUTH = { authorization: `Bearer ${SERVER_KEY}` };

async function taskUplink(t: TestContext, server: TestServer, env: Record<string, string> = {}) {
  const child = spawnScript(t, FIXTURE, { SB_URL: server.wsUrl, SB_KEY: SERVER_KEY, ...env });
  await child.waitFor(/^ready /, 20_000);
  return child;
}

function launchOverHttp(server: TestServer, name: string, args: unknown[], key = SERVER_KEY) {
  return fetch(`${server.url}/_/tasks/${name}`, {
    method: 'POST',
    headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
    body: JSON.stringify(args),
  });
}

async function getTask(server: TestServer, id: string, query = '', headers = AUTH): Promise<Json> {
  const response = await fetch(`${server.url}/_/tasks/${id}${query}`, { headers });
  assert.equal(response.status, 200, await response.clone().text());
  return (await response.json()) as Json;
}

test('a task launched over HTTP runs on an uplink, reports its state and ends with its result', async (t) => {
  const server = await startServer(t);
  await taskUplink(t, server);
  const response = await launchOverHttp(server, 'job.progress', [4, 150]);
  assert.equal(response.status, 202);
  const launched = (await response.json()) as { id: string; url: string; status: string };
  assert.match(launched.id, /^tsk_[A-Za-z0-9_-]{22}$/);
  assert.equal(launched.url, `/_/tasks/${launched.id}`);
  assert.equal(response.headers.get('location'), `${server.url}/_/tasks/${launched.id}`);
  assert.equal(launched.status, 'running');

  // The state is readable while it runs.
  const running = await untilValue(
    () => getTask(server, launched.id),
    (task) => task.status === 'running' && (task.state as Json | null)?.step !== undefined,
    10_000,
    'a state while running',
  );
  assert.equal((running.state as Json).of, 4);
  assert.equal(running.endedAt, null);
  assert.equal(typeof running.startedAt, 'string');
  assert.match(String(running.provider), /\S/);

  const ended = await getTask(server, launched.id, '?waitMs=20000');
  assert.equal(ended.status, 'completed');
  assert.deepEqual(ended.result, { done: 4, task: launched.id });
  assert.deepEqual(ended.state, { step: 4, of: 4 });
  assert.ok(Date.parse(String(ended.endedAt)) >= Date.parse(String(ended.startedAt)));

  // Listed for server keys, filtered by name and status.
  const list = await fetch(`${server.url}/_/tasks?name=job.progress&status=completed`, {
    headers: AUTH,
  });
  const page = (await list.json()) as { num_results: number; objects: Json[] };
  assert.equal(page.num_results, 1);
  assert.equal(page.objects[0]!.id, launched.id);
  await expectError(
    await fetch(`${server.url}/_/tasks`, { headers: { authorization: `Bearer ${CLIENT_KEY}` } }),
    403,
    'SB_ERR_PERMISSION_DENIED',
  );
  await expectError(
    await fetch(`${server.url}/_/tasks?status=done`, { headers: AUTH }),
    400,
    'SB_ERR_HTTP_BAD_REQUEST',
  );
});

test('app code launches tasks and gets Task objects: result, error, state, kill', async (t) => {
  const server = await startServer(t);
  const child = await taskUplink(t, server);
  const { sb } = server;

  const task = sb.launch('job.progress', 3, 30);
  assert.deepEqual(await task.result(), { done: 3, task: task.id });
  assert.equal(task.status, 'completed');
  assert.deepEqual(await task.state(), { step: 3, of: 3 });

  const failing = sb.launch('job.fail', 'boom');
  await assert.rejects(failing.result(), (error: SwitchboardError) => {
    assert.match(error.message, /boom/);
    return true;
  });
  const info = await failing.info();
  assert.equal(info.status, 'failed');
  assert.match(String(info.error?.message), /boom/);

  // Killing fires the handler's signal on the uplink and ends the task as killed.
  const forever = sb.launch('job.forever');
  await until(() => forever.status === 'running', 10_000, 'running');
  await forever.kill();
  assert.equal(forever.status, 'killed');
  await child.waitFor(new RegExp(`^signal ${forever.id}$`), 10_000);
  await assert.rejects(forever.result(), { code: 'SB_ERR_TASK_KILLED' });
  await forever.kill(); // a second kill changes nothing
  assert.equal((await forever.info()).status, 'killed');

  // Unknown functions are refused before anything is recorded.
  assert.throws(() => sb.launch('job.nothing'), { code: 'SB_ERR_NO_SUCH_FUNCTION' });
  assert.throws(() => sb.task('tsk_AAAAAAAAAAAAAAAAAAAAAA'), { code: 'SB_ERR_NO_SUCH_TASK' });

  // getTaskContext() outside a task is a coded error; state above the bound is refused.
  await assert.rejects(sb.call('job.progress', 1, 1), { code: 'SB_ERR_NO_TASK_CONTEXT' });
  assert.equal(await sb.launch('job.bigState', 100_000).result(), 'SB_ERR_TASK_STATE_TOO_LARGE');
  // A state sent without awaiting it that fails is dropped, not an unhandled rejection.
  sb.callable('app.unawaited', () => {
    void getTaskContext().setState('x'.repeat(100_000));
    return 'ok';
  });
  assert.equal(await sb.launch('app.unawaited').result(), 'ok');
  await new Promise((resolve) => setImmediate(resolve));
});

test('killing over HTTP, and an uplink that dies mid-task fails the task', async (t) => {
  const server = await startServer(t);
  const child = await taskUplink(t, server);
  const first = (await (await launchOverHttp(server, 'job.forever', [])).json()) as Json;
  const killed = await fetch(`${server.url}/_/tasks/${String(first.id)}`, {
    method: 'DELETE',
    headers: AUTH,
  });
  assert.equal(killed.status, 200);
  assert.equal(((await killed.json()) as Json).status, 'killed');
  await child.waitFor(new RegExp(`^signal ${String(first.id)}$`), 10_000);
  const view = await getTask(server, String(first.id));
  assert.deepEqual((view.error as Json).code, 'SB_ERR_TASK_KILLED');

  // A deadline given at launch ends the task and fires the handler's signal.
  const timed = server.sb.launchWithOptions('job.forever', [], { timeoutMs: 300 });
  await assert.rejects(timed.result(), { code: 'SB_ERR_CALL_TIMEOUT' });
  await child.waitFor(new RegExp(`^signal ${timed.id}$`), 10_000);

  const second = server.sb.launch('job.forever');
  await until(() => second.status === 'running', 10_000, 'running');
  child.process.kill('SIGKILL');
  await assert.rejects(second.result(), { code: 'SB_ERR_UPLINK_DISCONNECTED' });
  assert.equal((await second.info()).status, 'failed');
});

test('a task outlives the uplink that launched it; uplinks launch and await tasks', async (t) => {
  const server = await startServer(t);
  await taskUplink(t, server);
  const launcher: Child = spawnScript(t, FIXTURE, {
    SB_URL: server.wsUrl,
    SB_KEY: SERVER_KEY,
    SB_LAUNCH: 'job.progress',
    SB_ARGS: JSON.stringify([3, 200]),
  });
  const line = await launcher.waitFor(/^launched /, 20_000);
  const id = line.split(' ')[1]!;
  assert.equal((await launcher.exited).code, 0);
  const ended = await getTask(server, id, '?waitMs=20000');
  assert.equal(ended.status, 'completed');
  assert.deepEqual(ended.result, { done: 3, task: id });

  // An uplink launches a task and awaits it through its Task object.
  const seen = (await server.sb.call('job.launchHere', 'job.progress', [2, 20])) as Json;
  assert.equal(seen.status, 'completed');
  assert.deepEqual(seen.result, { done: 2, task: seen.id });
  assert.deepEqual(seen.state, { step: 2, of: 2 });
});

test('client keys launch only what they may call and see only their own tasks', async (t) => {
  const server = await startServer(t);
  await taskUplink(t, server);
  await expectError(
    await launchOverHttp(server, 'job.progress', [1, 1], CLIENT_KEY),
    404,
    'SB_ERR_NO_SUCH_FUNCTION',
  );
  const response = await launchOverHttp(server, 'job.public', [21], CLIENT_KEY);
  assert.equal(response.status, 202);
  const { id } = (await response.json()) as { id: string };
  const mine = await getTask(server, id, '?waitMs=10000', {
    authorization: `Bearer ${CLIENT_KEY}`,
  });
  assert.deepEqual(mine.result, { doubled: 42, caller: 'test-client' });
  // Anonymous callers may not see a task a key launched.
  await expectError(await fetch(`${server.url}/_/tasks/${id}`), 404, 'SB_ERR_NO_SUCH_TASK');
  await expectError(
    await fetch(`${server.url}/_/tasks/not-a-task`, { headers: AUTH }),
    404,
    'SB_ERR_NO_SUCH_TASK',
  );
  await expectError(
    await fetch(`${server.url}/_/tasks/job.public`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: '{"not": "an array"}',
    }),
    400,
    'SB_ERR_HTTP_BAD_BODY',
  );
  const total = (await server.sb.app.inject({ url: '/_/tasks', headers: AUTH })).json<Json>();
  assert.equal(total.num_results, 1);
});

test('a server runs at most maxRunningTasks tasks; launches beyond are refused before recording', async (t) => {
  const server = await startServer(t, { maxRunningTasks: 2 });
  await taskUplink(t, server);
  const running = [server.sb.launch('job.forever'), server.sb.launch('job.forever')];
  assert.throws(() => server.sb.launch('job.forever'), { code: 'SB_ERR_TOO_MANY_TASKS' });
  await expectError(await launchOverHttp(server, 'job.forever', []), 429, 'SB_ERR_TOO_MANY_TASKS');
  const listed = (await server.sb.app.inject({ url: '/_/tasks', headers: AUTH })).json<Json>();
  assert.equal(listed.num_results, 2);
  await running[0]!.kill();
  const again = server.sb.launch('job.forever');
  await again.kill();
  await running[1]!.kill();
});

test('task records survive a restart; what was running is interrupted; retention removes old ones', async (t) => {
  const first = await startServer(t);
  const child = await taskUplink(t, first);
  const done = first.sb.launch('job.progress', 1, 1);
  await done.result();
  const running = first.sb.launch('job.forever');
  await until(() => running.status === 'running', 10_000, 'running');
  await first.sb.close();
  child.process.kill('SIGKILL');

  const second = await startServer(t, { dataDir: first.dataDir });
  assert.equal(second.sb.task(done.id).status, 'completed');
  assert.deepEqual(await second.sb.task(done.id).result(), { done: 1, task: done.id });
  const interrupted = await second.sb.task(running.id).info();
  assert.equal(interrupted.status, 'failed');
  assert.equal(interrupted.error?.code, 'SB_ERR_TASK_INTERRUPTED');
  await second.sb.close();

  await new Promise((resolve) => setTimeout(resolve, 20));
  const third = await startServer(t, { dataDir: first.dataDir, taskRetentionMs: 10 });
  assert.throws(() => third.sb.task(done.id), { code: 'SB_ERR_NO_SUCH_TASK' });
  assert.throws(() => third.sb.task(running.id), { code: 'SB_ERR_NO_SUCH_TASK' });
});
