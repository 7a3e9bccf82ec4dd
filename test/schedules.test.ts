// Issue 21, schedules: cron schedules that launch background tasks, on a real server with a real
// SQLite file; runs of in-process functions and of a real uplink child process.
import assert from 'node:assert/strict';
import path from 'node:path';
import { test, type TestContext } from 'node:test';
import Database from 'better-sqlite3';
import { createSwitchboard } from '@switchboard/server';
import { jsonOf, startAdminServer, type AdminServer } from './helpers/admin.ts';
import { spawnScript } from './helpers/child.ts';
import { runCli } from './helpers/cli.ts';
import { expectError, type Json } from './helpers/http-client.ts';
import { SERVER_KEY, makeDataDir, until, untilValue } from './helpers/server.ts';

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** The task-running uplink of test/tasks.test.ts, connected to `server`. */
async function taskUplink(t: TestContext, server: AdminServer): Promise<void> {
  const child = spawnScript(t, 'test/fixtures/task-uplink.ts', {
    SB_URL: server.wsUrl,
    SB_KEY: SERVER_KEY,
  });
  await child.waitFor(/^ready /, 20_000);
}

/** A reader of the admin API's `path`, for untilValue. */
function readAdmin<T>(server: AdminServer, path: string): () => Promise<T> {
  return async () => jsonOf<T>(await server.admin(path));
}

/** A task as GET /_/tasks/<id> shows it once ended (or after 10 s). */
async function endedTask(server: AdminServer, id: string): Promise<Json> {
  const response = await fetch(`${server.url}/_/tasks/${id}?waitMs=10000`, {
    headers: { authorization: `Bearer ${SERVER_KEY}` },
  });
  return jsonOf<Json>(response);
}

test('an every-second schedule runs an in-process function as tasks, about a second apart, until removed', async (t) => {
  const server = await startAdminServer(t);
  const { sb } = server;
  let runs = 0;
  sb.callable('tick', () => ++runs);
  const made = sb.schedule({ name: 'ticker', cron: '*/1 * * * * *', function: 'tick' });
  assert.equal(made.name, 'ticker');
  assert.equal(made.timezone, null);
  await until(() => runs >= 3, 10_000, 'three runs');

  const { items, total } = sb.schedules.history('ticker');
  assert.ok(total >= 3);
  assert.ok(items.every((task) => task.schedule === 'ticker' && task.name === 'tick'));
  const times = items.map((task) => task.createdAt).reverse();
  for (let i = 1; i < times.length; i++) assert.ok(times[i]! > times[i - 1]!, 'one per fire time');
  const meanGap = (times.at(-1)! - times[0]!) / (times.length - 1);
  assert.ok(meanGap > 500 && meanGap < 2_500, `runs ${meanGap} ms apart on average`);
  const task = await sb.task(items[0]!.id).result();
  assert.equal(typeof task, 'number');

  const listed = sb.schedules.get('ticker');
  assert.ok(listed.lastRunAt !== null && listed.lastRunAt % 1000 === 0, 'fire times are seconds');
  assert.equal(listed.lastError, null);

  sb.schedules.remove('ticker');
  const after = runs;
  await sleep(2_200);
  assert.ok(runs <= after + 1, 'at most a run already under way after the remove');
  assert.throws(() => sb.schedules.get('ticker'), { code: 'SB_ERR_NO_SUCH_SCHEDULE' });
});

test('the admin API creates, reads, changes, runs and removes schedules of an uplink function', async (t) => {
  const server = await startAdminServer(t);
  await taskUplink(t, server);
  const post = (body: unknown) => server.admin('schedules/', { method: 'POST', body });
  const base = { name: 'report', cron: '0 3 * * *', function: 'job.progress', args: [2, 10] };

  await expectError(await post({ ...base, cron: '61 * * * *' }), 400, 'SB_ERR_SCHEDULE_INVALID');
  await expectError(await post({ ...base, cron: 'daily' }), 400, 'SB_ERR_SCHEDULE_INVALID');
  await expectError(
    await post({ ...base, timezone: 'Europe/Nowhere' }),
    400,
    'SB_ERR_SCHEDULE_INVALID',
  );
  await expectError(await post({ ...base, name: 'a b' }), 400, 'SB_ERR_SCHEDULE_INVALID');
  await expectError(await post({ ...base, args: 'x' }), 400, 'SB_ERR_ADMIN_BAD_REQUEST');
  await expectError(await post({ name: 'x', cron: '* * * * *' }), 400, 'SB_ERR_ADMIN_BAD_REQUEST');

  const created = await jsonOf<Json>(await post({ ...base, timezone: 'Europe/Paris' }), 201);
  assert.equal(created.name, 'report');
  assert.equal(created.function, 'job.progress');
  assert.deepEqual(created.args, [2, 10]);
  assert.equal(created.timezone, 'Europe/Paris');
  assert.equal(created.enabled, true);
  assert.equal(created.last_run_at, null);
  assert.ok(Date.parse(String(created.next_run_at)) > Date.now());
  await expectError(await post(base), 409, 'SB_ERR_SCHEDULE_EXISTS');

  const list = await jsonOf<{ objects: Json[]; num_results: number }>(
    await server.admin('schedules/'),
  );
  assert.equal(list.num_results, 1);
  assert.deepEqual(list.objects[0], created);
  const id = String(created.id);
  assert.deepEqual(await jsonOf<Json>(await server.admin(`schedules/${id}/`)), created);
  assert.deepEqual(await jsonOf<Json>(await server.admin('schedules/report/')), created);
  await expectError(await server.admin('schedules/nope/'), 404, 'SB_ERR_NO_SUCH_SCHEDULE');

  // Run now: a task at once, the planned run unchanged; it shows in the history.
  const ran = await server.admin(`schedules/${id}/run/`, { method: 'POST' });
  const task = await jsonOf<Json>(ran, 202);
  assert.equal(task.name, 'job.progress');
  assert.equal(task.schedule, 'report');
  const ended = await endedTask(server, String(task.id));
  assert.equal(ended.status, 'completed');
  assert.deepEqual(ended.result, { done: 2, task: task.id });
  await expectError(
    await server.admin('schedules/nope/run/', { method: 'POST' }),
    404,
    'SB_ERR_NO_SUCH_SCHEDULE',
  );

  // Every second from now on: it fires on the uplink.
  const patch = (body: unknown) => server.admin(`schedules/${id}/`, { method: 'PATCH', body });
  await expectError(await patch({ name: 'other' }), 400, 'SB_ERR_ADMIN_BAD_REQUEST');
  await expectError(await patch({ timezone: 'Nowhere' }), 400, 'SB_ERR_SCHEDULE_INVALID');
  const changed = await jsonOf<Json>(await patch({ cron: '* * * * * *', timezone: null }));
  assert.equal(changed.cron, '* * * * * *');
  assert.equal(changed.timezone, null);
  assert.ok(Date.parse(String(changed.next_run_at)) <= Date.now() + 1_000);
  type Page = { objects: Json[]; num_results: number };
  const history = await untilValue(
    readAdmin<Page>(server, `schedules/${id}/history/`),
    (page) => page.objects.filter((run) => run.status === 'completed').length >= 3,
    15_000,
    'three completed runs',
  );
  assert.equal(history.objects.at(-1)!.id, task.id, 'newest first: the run-now one is oldest');
  const fired = await jsonOf<Json>(await server.admin(`schedules/${id}/`));
  assert.ok(fired.last_run_at !== null);
  assert.equal(fired.last_error, null);
  assert.ok(history.objects.some((run) => run.id === fired.last_task_id));
  await expectError(
    await server.admin(`schedules/${id}/history/?page=9`),
    404,
    'SB_ERR_HTTP_NOT_FOUND',
  );

  // Disabled: nothing fires, nothing is planned.
  const disabled = await jsonOf<Json>(await patch({ enabled: false }));
  assert.equal(disabled.next_run_at, null);
  const count = (await jsonOf<Page>(await server.admin(`schedules/${id}/history/`))).num_results;
  await sleep(1_500);
  const later = (await jsonOf<Page>(await server.admin(`schedules/${id}/history/`))).num_results;
  assert.ok(later <= count + 1, 'at most a run already claimed before the change');

  const removed = await server.admin(`schedules/${id}/`, { method: 'DELETE' });
  assert.equal(removed.status, 204);
  await expectError(await server.admin(`schedules/${id}/`), 404, 'SB_ERR_NO_SUCH_SCHEDULE');
  await expectError(
    await server.admin(`schedules/${id}/`, { method: 'DELETE' }),
    404,
    'SB_ERR_NO_SUCH_SCHEDULE',
  );
});

test('a launch that fails is shown on the schedule; the schedule goes on', async (t) => {
  const server = await startAdminServer(t);
  server.sb.schedule({ name: 'orphan', cron: '* * * * * *', function: 'not.served' });
  const view = await untilValue(
    readAdmin<Json>(server, 'schedules/orphan/'),
    (body) => body.last_error != null,
    10_000,
    'the failure shown',
  );
  assert.equal((view.last_error as Json).code, 'SB_ERR_NO_SUCH_FUNCTION');
  assert.equal(view.last_task_id, null);
  // Served now: the next run launches and clears the error.
  server.sb.callable('not.served', () => 'served');
  await untilValue(
    readAdmin<Json>(server, 'schedules/orphan/'),
    (body) => body.last_error === null && body.last_task_id !== null,
    10_000,
    'a run once the function is served',
  );
});

test('a run missed while the server was down runs once when it starts again', async (t) => {
  const dataDir = await makeDataDir(t);
  const start = async (runs: { count: number }) => {
    const sb = createSwitchboard({ host: '127.0.0.1', port: 0, dataDir, createInitialKey: false });
    t.after(() => sb.close());
    sb.callable('nightly.job', () => ++runs.count);
    // App code declares its schedules at every start (the same ones: nothing changes).
    sb.schedule({ name: 'nightly', cron: '0 3 * * *', function: 'nightly.job', args: [] });
    await sb.listen();
    return sb;
  };
  const first = { count: 0 };
  const before = await start(first);
  const planned = before.schedules.get('nightly').nextRunAt!;
  await before.close();

  // The server stays down past three fire times: moved forward by planning the run in the past.
  const missed = planned - 3 * 86_400_000;
  const db = new Database(path.join(dataDir, 'switchboard.db'));
  db.prepare('UPDATE schedules SET next_run_at = ? WHERE name = ?').run(missed, 'nightly');
  db.close();

  const second = { count: 0 };
  const after = await start(second);
  await until(() => second.count === 1, 10_000, 'the missed run');
  await sleep(1_200);
  assert.equal(second.count, 1, 'once, not once per missed fire time');
  assert.equal(first.count, 0);
  const schedule = after.schedules.get('nightly');
  assert.equal(schedule.lastRunAt, missed);
  assert.equal(schedule.nextRunAt, planned, 'then at its usual time');
  const { items } = after.schedules.history('nightly');
  assert.equal(items.length, 1);
  assert.equal(await after.task(items[0]!.id).result(), 1);
});

test('switchboard schedules add, list, run-now and remove', async (t) => {
  const server = await startAdminServer(t);
  let runs = 0;
  const seen: unknown[] = [];
  server.sb.callable('cli.job', (...args: unknown[]) => {
    seen.push(args);
    return ++runs;
  });
  const cli = (...args: string[]) => runCli(t, server.dataDir, ['schedules', ...args]);

  const bad = await cli('add', 'x', '--cron', '* * *', '--function', 'cli.job');
  assert.equal(bad.code, 1);
  assert.match(bad.err, /SB_ERR_SCHEDULE_INVALID/);
  const noArray = await cli('add', 'x', '--cron', '* * * * *', '--function', 'f', '--args', '{}');
  assert.equal(noArray.code, 2);
  const noCron = await cli('add', 'x', '--function', 'cli.job');
  assert.equal(noCron.code, 2);
  assert.match(noCron.err, /needs --cron/);

  const added = await cli(
    'add',
    'every-second',
    '--cron',
    '* * * * * *',
    '--function',
    'cli.job',
    '--args',
    '["a", 1]',
  );
  assert.equal(added.code, 0, added.err);
  assert.match(added.out, /Added schedule "every-second"/);
  // The running server finds it in its data folder and runs it.
  await until(() => runs >= 2, 10_000, 'runs of the schedule the CLI added');
  assert.deepEqual(seen[0], ['a', 1]);
  const again = await cli('add', 'every-second', '--cron', '* * * * *', '--function', 'cli.job');
  assert.equal(again.code, 1);
  assert.match(again.err, /SB_ERR_SCHEDULE_EXISTS/);

  const listed = await cli('list');
  assert.equal(listed.code, 0);
  const line = listed.out.split('\n').find((row) => row.startsWith('every-second'));
  assert.match(line ?? '', /\* \* \* \* \* \*\s+UTC\s+cli\.job\s+\d{4}-.*Z\s+\d{4}-.*Z\s+-$/);

  const env = { SWITCHBOARD_URL: server.url, SWITCHBOARD_ADMIN_TOKEN: server.token };
  const now = await runCli(t, null, ['schedules', 'run-now', 'every-second'], { env });
  assert.equal(now.code, 0, now.err);
  const taskId = /Launched task (tsk_\S+) \(cli\.job\)/.exec(now.out)?.[1];
  assert.ok(taskId, now.out);
  assert.equal(typeof (await server.sb.task(taskId).result()), 'number');
  const unknown = await runCli(t, null, ['schedules', 'run-now', 'nope'], { env });
  assert.equal(unknown.code, 1);
  assert.match(unknown.err, /SB_ERR_NO_SUCH_SCHEDULE/);
  const noToken = await runCli(t, null, ['schedules', 'run-now', 'x'], {
    env: { SWITCHBOARD_ADMIN_TOKEN: '' },
  });
  assert.equal(noToken.code, 2);

  const removed = await cli('remove', 'every-second');
  assert.equal(removed.code, 0);
  await sleep(1_500); // the server's next look at the data folder
  const count = runs;
  await sleep(1_500);
  assert.ok(runs <= count + 1, 'stopped');
  assert.equal((await cli('list')).out.includes('every-second'), false);
  const twice = await cli('remove', 'every-second');
  assert.equal(twice.code, 1);
  assert.match(twice.err, /SB_ERR_NO_SUCH_SCHEDULE/);
});
