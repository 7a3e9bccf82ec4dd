import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { SwitchboardError } from '@switchboard/shared';
import {
  AnvilError,
  LiveObject,
  connectAnvil,
  type AnvilClient,
  type Json,
} from './helpers/anvil-client.ts';
import { expectError } from './helpers/http-client.ts';
import { SERVER_KEY, startServer, until, untilValue } from './helpers/server.ts';

// Background tasks and Anvil uplinks (docs/anvil.md): `@anvil.server.background_task`
// functions run as Switchboard tasks (LAUNCH_BACKGROUND, GET_TASK_STATE polls, KILL_TASK), and
// scripts launch and follow tasks with `anvil.server.launch_background_task` and Task objects.

const AUTH = { authorization: `Bearer ${SERVER_KEY}` };

/** A promise to settle by hand: what a task handler waits on. */
function gate(): { wait: Promise<void>; open: () => void } {
  let open!: () => void;
  const wait = new Promise<void>((resolve) => (open = resolve));
  return { wait, open };
}

function launches(anvil: AnvilClient): Json[] {
  return anvil.frames.filter((frame) => frame.type === 'LAUNCH_BACKGROUND');
}

test('a background_task runs as a task: LAUNCH_BACKGROUND, its state polled while it runs, its result; launched by app code and over HTTP', async (t) => {
  const { sb, url, wsUrl } = await startServer(t);
  const step = gate();
  const anvil = await connectAnvil(t, wsUrl, SERVER_KEY, {
    tasks: {
      crunch: async ([n], _kwargs, context) => {
        context.taskState.step = 1;
        await step.wait;
        context.taskState.step = 2;
        return { doubled: (n as number) * 2 };
      },
    },
  });
  assert.deepEqual(
    anvil.frames.filter((frame) => frame.output !== undefined),
    [],
  );

  const task = sb.launch('crunch', 21);
  // The state the script keeps in task_state arrives through GET_TASK_STATE (about every second).
  await untilValue(
    () => task.state(),
    (state) => (state as Json | undefined)?.step === 1,
    10_000,
    'the state while running',
  );
  assert.equal(task.status, 'running');
  const [launch] = launches(anvil);
  assert.equal(launch!.command, 'task:crunch');
  assert.deepEqual(launch!.args, [21]);
  assert.deepEqual(launch!.kwargs, {});
  assert.equal(launch!['call-stack-id'], launch!.id);
  const query = anvil.frames.find((frame) => frame.type === 'GET_TASK_STATE')!;
  assert.equal(query.task, launch!.id);
  assert.match(String(query.id), /^bgquery-/);
  assert.deepEqual(await task.state(), { step: 1 });

  step.open();
  assert.deepEqual(await task.result(), { doubled: 42 });
  // The last state comes with the answer.
  assert.deepEqual(await task.state(), { step: 2 });
  assert.equal((await task.info()).status, 'completed');

  // Over HTTP, like any task.
  const response = await fetch(`${url}/_/tasks/crunch`, {
    method: 'POST',
    headers: { ...AUTH, 'content-type': 'application/json' },
    body: '[5]',
  });
  assert.equal(response.status, 202);
  const { id } = (await response.json()) as { id: string };
  const ended = await fetch(`${url}/_/tasks/${id}?waitMs=20000`, { headers: AUTH });
  const view = (await ended.json()) as Json;
  assert.equal(view.status, 'completed');
  assert.deepEqual(view.result, { doubled: 10 });
  assert.deepEqual(view.state, { step: 2 });
  assert.equal(launches(anvil).length, 2);
  assert.deepEqual(anvil.violations, []);
});

test('a task-only function refuses plain calls (SB_ERR_TASK_ONLY); a callable of the same name is called; a callable launched as a task gets a CALL', async (t) => {
  const { sb, url, wsUrl } = await startServer(t);
  const anvil = await connectAnvil(t, wsUrl, SERVER_KEY, {
    tasks: { only: () => 'task', both: () => 'as task' },
    functions: { both: () => 'as call', plain: () => 'plain' },
  });
  await assert.rejects(sb.call('only'), (error: SwitchboardError) => {
    assert.equal(error.code, 'SB_ERR_TASK_ONLY');
    assert.match(error.message, /launch it/);
    return true;
  });
  await expectError(
    await fetch(`${url}/_/call/only`, {
      method: 'POST',
      headers: { ...AUTH, 'content-type': 'application/json' },
      body: '[]',
    }),
    400,
    'SB_ERR_TASK_ONLY',
  );
  // From a script: anvil.server.BackgroundTaskError, with the code.
  const other = await connectAnvil(t, wsUrl, SERVER_KEY);
  await assert.rejects(other.call('only'), (error: AnvilError) => {
    assert.equal(error.type, 'anvil.server.BackgroundTaskError');
    assert.equal(error.raw.code, 'SB_ERR_TASK_ONLY');
    return true;
  });
  assert.equal(launches(anvil).length, 0);

  assert.equal(await sb.call('both'), 'as call');
  assert.equal(await sb.launch('both').result(), 'as task');
  assert.equal(await sb.launch('plain').result(), 'plain');
  assert.deepEqual(
    launches(anvil).map((frame) => frame.command),
    ['task:both'],
  );
  assert.ok(anvil.calls.some((frame) => frame.command === 'plain'));
});

test('killing a task sends KILL_TASK and ends it killed (the late answer is dropped); a raise fails it with the state it had', async (t) => {
  const { sb, wsUrl } = await startServer(t);
  const release = gate();
  const anvil = await connectAnvil(t, wsUrl, SERVER_KEY, {
    tasks: {
      stubborn: async (_args, _kwargs, context) => {
        context.taskState.phase = 'waiting';
        await release.wait;
        return 'finished anyway';
      },
      broken: (_args, _kwargs, context) => {
        context.taskState.reached = 3;
        throw new AnvilError('ValueError', 'no good');
      },
    },
  });
  const task = sb.launch('stubborn');
  await until(() => launches(anvil).length === 1, 5000, 'the launch');
  await task.kill();
  await assert.rejects(task.result(), { code: 'SB_ERR_TASK_KILLED' });
  await until(() => anvil.frames.some((frame) => frame.type === 'KILL_TASK'), 5000, 'KILL_TASK');
  const kill = anvil.frames.find((frame) => frame.type === 'KILL_TASK')!;
  assert.equal(kill.task, launches(anvil)[0]!.id);
  // Anvil's library cannot kill: the function runs on, and its answer changes nothing.
  release.open();
  await anvil.call('anvil.private.echo', ['after the answer']);
  assert.equal((await task.info()).status, 'killed');

  const failing = sb.launch('broken');
  await assert.rejects(failing.result(), (error: SwitchboardError) => {
    assert.equal(error.code, 'SB_ERR_REMOTE_ERROR');
    assert.equal(error.message, 'no good');
    return true;
  });
  const info = await failing.info();
  assert.equal(info.status, 'failed');
  assert.deepEqual(info.state, { reached: 3 });
});

test('a script launches tasks and follows them through Task objects (anvil.private.background_tasks.*, live-object methods)', async (t) => {
  const { sb, wsUrl } = await startServer(t);
  const step = gate();
  const hold = gate();
  t.after(() => hold.open());
  sb.callable('appArgs', (...args: unknown[]) => args);
  const worker = await connectAnvil(t, wsUrl, SERVER_KEY, {
    tasks: {
      slow: async ([label], _kwargs, context) => {
        context.taskState.label = label;
        await step.wait;
        return `done ${String(label)}`;
      },
      hang: async () => {
        await hold.wait;
        return 'released';
      },
      fails: () => {
        throw new AnvilError('KeyError', 'missing');
      },
    },
  });
  const script = await connectAnvil(t, wsUrl, SERVER_KEY);

  const task = (await script.call('anvil.private.background_tasks.launch', [
    'slow',
    'x',
  ])) as LiveObject;
  assert.ok(task instanceof LiveObject);
  assert.equal(task.spec.backend, 'anvil.private.BackgroundTask');
  assert.ok((task.spec.methods as string[]).includes('get_state'));
  const id = String(await task.call('get_id'));
  assert.match(id, /^tsk_/);
  assert.equal(await task.call('get_task_name'), 'slow');
  assert.ok((await task.call('get_start_time')) instanceof Date);
  assert.equal(await task.call('is_running'), true);
  assert.equal(await task.call('is_completed'), false);
  assert.equal(await task.call('get_termination_status'), null);
  await until(() => launches(worker).length === 1, 5000, 'the launch');
  // Launched by the script's key: app code sees the same task.
  assert.equal(sb.task(id).id, id);
  await untilValue(
    () => task.call('get_state'),
    (state) => (state as Json | undefined)?.label === 'x',
    10_000,
    'the state',
  );
  step.open();
  assert.equal(await sb.task(id).result(), 'done x');
  assert.equal(await task.call('is_completed'), true);
  assert.equal(await task.call('get_termination_status'), 'completed');
  assert.equal(await task.call('get_return_value'), 'done x');
  assert.equal(await task.call('get_error'), null);

  // Any function can be launched; keyword arguments arrive as one last object.
  const sum = (await script.call('anvil.private.background_tasks.launch', ['appArgs', 1, 2], {
    three: 3,
  })) as LiveObject;
  assert.deepEqual(await sb.task(sum.id).result(), [1, 2, { three: 3 }]);
  const failed = (await script.call('anvil.private.background_tasks.launch', [
    'fails',
  ])) as LiveObject;
  await sb
    .task(failed.id)
    .result()
    .catch(() => undefined);
  await assert.rejects(failed.call('get_error'), (error: AnvilError) => {
    assert.equal(error.type, 'SwitchboardError');
    assert.equal(error.raw.code, 'SB_ERR_REMOTE_ERROR');
    assert.equal(error.message, 'missing');
    return true;
  });
  assert.equal(await failed.call('get_termination_status'), 'failed');

  // get_by_id, list, kill.
  const again = (await script.call('anvil.private.background_tasks.get_by_id', [id])) as LiveObject;
  assert.equal(again.id, id);
  const listed = (await script.call('anvil.private.background_tasks.list', [], {
    all_environments: false,
  })) as LiveObject[];
  assert.deepEqual(listed.map((item) => item.id).sort(), [id, sum.id, failed.id].sort());
  await assert.rejects(
    script.call('anvil.private.background_tasks.get_by_id', ['tsk_AAAAAAAAAAAAAAAAAAAAAA']),
    (error: AnvilError) => error.type === 'anvil.server.BackgroundTaskNotFound',
  );
  const long = (await script.call('anvil.private.background_tasks.launch', ['hang'])) as LiveObject;
  await until(() => launches(worker).length === 3, 5000, 'the launch of hang');
  assert.equal(await long.call('kill'), null);
  assert.equal(await long.call('get_termination_status'), 'killed');
  await assert.rejects(long.call('is_completed'), (error: AnvilError) => {
    assert.equal(error.type, 'anvil.server.BackgroundTaskKilled');
    return true;
  });
  await assert.rejects(long.call('nonsense'), (error: AnvilError) => {
    assert.equal(error.type, 'anvil.server.ServiceNotAdded');
    return true;
  });
  assert.deepEqual(script.violations, []);
});
