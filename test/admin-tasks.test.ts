import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { Page } from '../server/src/http/admin/pagination.ts';
import type { TaskAdminView } from '../server/src/http/admin/task-routes.ts';
import { jsonOf, startAdminServer } from './helpers/admin.ts';
import { runCli } from './helpers/cli.ts';
import { expectError } from './helpers/http-client.ts';
import { LOOP_FUNCTION, launchLoop, serveLoop } from './helpers/tasks.ts';

const UNKNOWN_ID = 'tsk_AAAAAAAAAAAAAAAAAAAAAA';

test('admin tasks/: list newest first with filters and pages, get one with its live state, kill; coded 400/404', async (t) => {
  const { sb, admin } = await startAdminServer(t);
  serveLoop(sb);
  sb.callable('ops.double', (n: number) => n * 2);
  sb.callable('ops.fail', () => {
    throw new Error('broken on purpose');
  });

  const done = sb.launch('ops.double', 21);
  assert.equal(await done.result(), 42);
  const failed = sb.launch('ops.fail');
  await assert.rejects(failed.result());
  const core = sb.app.switchboard;
  const scheduled = core.tasks.launch('ops.double', [1], {
    caller: { kind: 'app' },
    schedule: 'nightly',
  });
  const loop = await launchLoop(sb);

  const all = await jsonOf<Page<TaskAdminView>>(await admin('tasks/'));
  assert.equal(all.num_results, 4);
  assert.equal(all.page, 1);
  assert.equal(all.total_pages, 1);
  assert.deepEqual(
    all.objects.map((task) => task.id),
    [loop.id, scheduled.id, failed.id, done.id],
    'newest first',
  );

  const completed = all.objects.find((task) => task.id === done.id)!;
  assert.deepEqual(Object.keys(completed).sort(), [
    'created_at',
    'ended_at',
    'error',
    'id',
    'name',
    'node',
    'provider',
    'result',
    'schedule',
    'started_at',
    'state',
    'status',
    'timeout_ms',
  ]);
  assert.equal(completed.status, 'completed');
  assert.equal(completed.result, 42);
  assert.equal(completed.error, null);
  assert.equal(completed.provider, 'app');
  assert.equal(completed.timeout_ms, null);
  for (const at of [completed.created_at, completed.started_at, completed.ended_at])
    assert.equal(new Date(String(at)).toISOString(), at);
  const failure = all.objects.find((task) => task.id === failed.id)!;
  assert.equal(failure.status, 'failed');
  assert.equal(failure.result, null);
  assert.equal(typeof failure.error?.code, 'string');

  // Filters, alone and together.
  const ids = async (query: string) =>
    (await jsonOf<Page<TaskAdminView>>(await admin(`tasks/?${query}`))).objects.map((x) => x.id);
  assert.deepEqual(await ids('name=ops.double'), [scheduled.id, done.id]);
  assert.deepEqual(await ids('status=running'), [loop.id]);
  assert.deepEqual(await ids('schedule=nightly'), [scheduled.id]);
  assert.deepEqual(await ids('name=ops.double&status=failed'), []);
  await expectError(await admin('tasks/?status=done'), 400, 'SB_ERR_ADMIN_BAD_REQUEST');
  await expectError(await admin('tasks/?name='), 400, 'SB_ERR_ADMIN_BAD_REQUEST');
  await expectError(await admin('tasks/?name=a&name=b'), 400, 'SB_ERR_ADMIN_BAD_REQUEST');
  await expectError(await admin('tasks/?page=0'), 400, 'SB_ERR_ADMIN_BAD_REQUEST');
  await expectError(await admin('tasks/?page=2'), 404, 'SB_ERR_HTTP_NOT_FOUND');

  // One task, with its live state (kept in memory, saved at most once a second).
  const running = await jsonOf<TaskAdminView>(await admin(`tasks/${loop.id}/`));
  assert.equal(running.name, LOOP_FUNCTION);
  assert.equal(running.status, 'running');
  assert.equal(typeof (running.state as { step: number }).step, 'number');
  assert.equal(running.ended_at, null);
  const noSlash = await jsonOf<TaskAdminView>(await admin(`tasks/${loop.id}`));
  assert.equal(noSlash.id, loop.id);

  // Kill: the task as it is after; again changes nothing; an ended task stays as it ended.
  const killed = await jsonOf<TaskAdminView>(
    await admin(`tasks/${loop.id}/`, { method: 'DELETE' }),
  );
  assert.equal(killed.id, loop.id);
  assert.equal(killed.status, 'killed');
  assert.equal(killed.error?.code, 'SB_ERR_TASK_KILLED');
  assert.equal(typeof killed.ended_at, 'string');
  await assert.rejects(loop.result(), { code: 'SB_ERR_TASK_KILLED' });
  const again = await jsonOf<TaskAdminView>(await admin(`tasks/${loop.id}/`, { method: 'DELETE' }));
  assert.equal(again.status, 'killed');
  assert.equal(again.ended_at, killed.ended_at);
  const untouched = await jsonOf<TaskAdminView>(
    await admin(`tasks/${done.id}/`, { method: 'DELETE' }),
  );
  assert.equal(untouched.status, 'completed');
  assert.equal(untouched.result, 42);

  for (const id of [UNKNOWN_ID, 'nonsense']) {
    await expectError(await admin(`tasks/${id}/`), 404, 'SB_ERR_NO_SUCH_TASK');
    await expectError(
      await admin(`tasks/${id}/`, { method: 'DELETE' }),
      404,
      'SB_ERR_NO_SUCH_TASK',
    );
  }
  await expectError(
    await admin('tasks/', { authorization: null }),
    401,
    'SB_ERR_ADMIN_TOKEN_MISSING',
  );
});

test('admin tasks/ pages 50 a page like the other admin lists', async (t) => {
  const { sb, admin } = await startAdminServer(t);
  sb.callable('ops.id', (n: number) => n);
  const tasks = Array.from({ length: 51 }, (_, n) => sb.launch('ops.id', n));
  await Promise.all(tasks.map((task) => task.result()));
  const first = await jsonOf<Page<TaskAdminView>>(await admin('tasks/'));
  assert.equal(first.num_results, 51);
  assert.equal(first.total_pages, 2);
  assert.equal(first.objects.length, 50);
  const second = await jsonOf<Page<TaskAdminView>>(await admin('tasks/?page=2'));
  assert.equal(second.page, 2);
  assert.deepEqual(
    second.objects.map((task) => task.id),
    [tasks[0]!.id],
  );
  await expectError(await admin('tasks/?page=3'), 404, 'SB_ERR_HTTP_NOT_FOUND');
});

test('switchboard tasks list|show|kill work through the admin API of a running server', async (t) => {
  const { sb, url, token } = await startAdminServer(t);
  serveLoop(sb);
  sb.callable('ops.double', (n: number) => n * 2);
  const done = sb.launch('ops.double', 4);
  await done.result();
  const loop = await launchLoop(sb);
  const cli = (...args: string[]) =>
    runCli(t, null, [...args, '--url', url], { env: { SWITCHBOARD_ADMIN_TOKEN: token } });

  const list = await cli('tasks', 'list');
  assert.equal(list.code, 0, list.err);
  const lines = list.out.trimEnd().split('\n');
  assert.match(lines[0]!, /^ID\s+FUNCTION\s+STATUS\s+CREATED\s+STARTED\s+ENDED\s+STATE$/);
  assert.match(
    lines[1]!,
    new RegExp(`^${loop.id}\\s+${LOOP_FUNCTION}\\s+running\\s.*\\{"step":\\d+\\}$`),
  );
  assert.match(lines[2]!, new RegExp(`^${done.id}\\s+ops\\.double\\s+completed\\s`));
  assert.equal(lines.at(-1), 'Page 1 of 1 (2 tasks)');

  const filtered = await cli('tasks', 'list', '--status', 'completed', '--name', 'ops.double');
  assert.equal(filtered.code, 0, filtered.err);
  assert.ok(filtered.out.includes(done.id) && !filtered.out.includes(loop.id), filtered.out);
  const none = await cli('tasks', 'list', '--status', 'failed');
  assert.equal(none.out, 'No tasks.\n');
  const json = await cli('tasks', 'list', '--json', '--name', LOOP_FUNCTION);
  const page = JSON.parse(json.out) as Page<TaskAdminView>;
  assert.deepEqual(
    page.objects.map((task) => task.id),
    [loop.id],
  );

  const show = await cli('tasks', 'show', done.id);
  assert.equal(show.code, 0, show.err);
  assert.match(show.out, /^id\s+tsk_/m);
  assert.match(show.out, /^status\s+completed$/m);
  assert.match(show.out, /^result\s+8$/m);
  assert.match(show.out, /^provider\s+app$/m);

  const kill = await cli('tasks', 'kill', loop.id);
  assert.equal(kill.code, 0, kill.err);
  assert.equal(kill.out, `Killed task ${loop.id} (${LOOP_FUNCTION})\n`);
  assert.equal((await loop.info()).status, 'killed');
  const again = await cli('tasks', 'kill', loop.id);
  assert.equal(again.out, `Task ${loop.id} (${LOOP_FUNCTION}) had already ended: killed\n`);
  const shown = JSON.parse((await cli('tasks', 'show', loop.id, '--json')).out) as TaskAdminView;
  assert.equal(shown.status, 'killed');
  assert.equal(shown.error?.code, 'SB_ERR_TASK_KILLED');

  for (const command of ['show', 'kill']) {
    const missing = await cli('tasks', command, UNKNOWN_ID);
    assert.equal(missing.code, 1, missing.out);
    assert.match(missing.err, /^switchboard: SB_ERR_NO_SUCH_TASK: /);
  }
  const badStatus = await cli('tasks', 'list', '--status', 'done');
  assert.equal(badStatus.code, 2);
  assert.match(badStatus.err, /--status must be one of queued, running, completed, failed, killed/);
  const noToken = await runCli(t, null, ['tasks', 'list', '--url', url], {
    env: { SWITCHBOARD_ADMIN_TOKEN: '' },
  });
  assert.equal(noToken.code, 2);
  assert.match(noToken.err, /tasks list needs an admin token/);
  const wrongToken = await runCli(t, null, ['tasks', 'list', '--url', url, '--token', 'sbt_nope']);
  assert.equal(wrongToken.code, 1);
  assert.match(wrongToken.err, /SB_ERR_ADMIN_TOKEN_INVALID/);
});
