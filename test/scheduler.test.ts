// Issue 21, schedules: the scheduler on a real SQLite store with a launcher that records what it
// is asked to launch (the task manager's own tests cover what a launch does).
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { test, type TestContext } from 'node:test';
import type Database from 'better-sqlite3';
import { SwitchboardError, encodeValue } from '@switchboard/shared';
import type { FastifyBaseLogger } from 'fastify';
import { openDatabase } from '../server/src/store/database.ts';
import { ScheduleStore } from '../server/src/store/schedule-store.ts';
import { TaskStore, type TaskQuery } from '../server/src/store/task-store.ts';
import { Schedules, type ScheduleTasks } from '../server/src/schedules/schedules.ts';
import {
  ALONE,
  type ClaimResult,
  type ScheduleClaims,
} from '../server/src/schedules/schedule-types.ts';
import type { LaunchOptions, TaskRecord } from '../server/src/tasks/task-types.ts';
import { makeDataDir, until } from './helpers/server.ts';

interface Launch {
  name: string;
  args: unknown[];
  options: LaunchOptions;
  at: number;
  task: string;
}

/** Records each launch in the task store as queued (what the task manager writes first). */
class RecordingLauncher implements ScheduleTasks {
  readonly launches: Launch[] = [];
  /** Set to make launches throw it. */
  failWith: SwitchboardError | undefined;
  private readonly store: TaskStore;

  constructor(db: Database.Database) {
    this.store = new TaskStore(db);
  }

  launch(name: string, args: unknown[], options: LaunchOptions): TaskRecord {
    if (this.failWith !== undefined) throw this.failWith;
    const record: TaskRecord = {
      id: `tsk_${randomBytes(16).toString('base64url')}`,
      name,
      status: 'queued',
      state: undefined,
      schedule: options.schedule,
      createdAt: Date.now(),
    };
    this.store.insert(record, encodeValue(args), { kind: options.caller.kind });
    this.launches.push({ name, args, options, at: record.createdAt, task: record.id });
    return record;
  }

  list(query: TaskQuery): { items: TaskRecord[]; total: number } {
    const { items, total } = this.store.list(query);
    return { items: items.map((stored) => stored.record), total };
  }
}

/** A logger that keeps warnings and errors. */
function testLog(): FastifyBaseLogger & { problems: string[] } {
  const problems: string[] = [];
  const keep = (obj: unknown, message?: string) => problems.push(message ?? String(obj));
  const noop = () => {};
  const log = {
    level: 'info',
    problems,
    fatal: keep,
    error: keep,
    warn: keep,
    info: noop,
    debug: noop,
    trace: noop,
    silent: noop,
    child: () => log,
  };
  return log;
}

interface Setup {
  db: Database.Database;
  store: ScheduleStore;
  launcher: RecordingLauncher;
  schedules: Schedules;
  log: ReturnType<typeof testLog>;
}

async function setUp(t: TestContext, claims: ScheduleClaims = ALONE): Promise<Setup> {
  const db = openDatabase(await makeDataDir(t));
  t.after(() => db.close());
  return withStore(t, db, claims);
}

/** Another server (scheduler) on the same store. */
function withStore(t: TestContext, db: Database.Database, claims: ScheduleClaims = ALONE): Setup {
  const store = new ScheduleStore(db);
  const launcher = new RecordingLauncher(db);
  const log = testLog();
  const schedules = new Schedules(store, launcher, { claims, log });
  t.after(() => schedules.close());
  return { db, store, launcher, schedules, log };
}

test('an every-second schedule launches its function about once a second', async (t) => {
  const { schedules, launcher, store, log } = await setUp(t);
  schedules.start();
  const made = schedules.define({
    name: 'tick',
    cron: '*/1 * * * * *',
    function: 'work',
    args: [1, 'two'],
  });
  assert.equal(made.enabled, true);
  assert.ok(made.nextRunAt! > Date.now() - 10 && made.nextRunAt! <= Date.now() + 1000);
  await until(() => launcher.launches.length >= 4, 10_000, 'four runs');
  for (const launch of launcher.launches) {
    assert.equal(launch.name, 'work');
    assert.deepEqual(launch.args, [1, 'two']);
    assert.deepEqual(launch.options.caller, { kind: 'app' });
    assert.equal(launch.options.schedule, 'tick');
  }
  // About a second apart (a busy machine may bunch two, never more than once per fire time).
  const times = launcher.launches.map((launch) => launch.at);
  const span = times.at(-1)! - times[0]!;
  assert.ok(span >= 1500 && span <= 8000, `4 runs over ${span} ms`);
  const record = store.get('tick');
  assert.ok(record.lastRunAt! % 1000 === 0, 'fire times are whole seconds');
  assert.ok(record.nextRunAt! > record.lastRunAt!);
  assert.equal(record.lastTaskId, launcher.launches.at(-1)!.task);
  assert.equal(record.lastError, null);
  assert.deepEqual(log.problems, []);
});

test('bad expressions, timezones, names and arguments are SB_ERR_SCHEDULE_INVALID', async (t) => {
  const { schedules } = await setUp(t);
  const base = { name: 'ok', cron: '0 * * * *', function: 'work' };
  for (const bad of [
    { cron: 'every day' },
    { cron: '61 * * * *' },
    { cron: '* * * * * * *' },
    { cron: '0 0 30 2 *' }, // never fires
    { cron: '' },
    { timezone: 'Mars/Olympus' },
    { name: 'has space' },
    { function: '' },
    { args: 'not an array' },
    { args: [Buffer.alloc(70_000)] },
    { enabled: 'yes' },
  ]) {
    assert.throws(
      () => schedules.create({ ...base, ...bad } as never),
      (error: SwitchboardError) => {
        assert.equal(error.code, 'SB_ERR_SCHEDULE_INVALID', JSON.stringify(bad));
        return true;
      },
    );
  }
  assert.deepEqual(schedules.list(), []);
  schedules.create({ ...base, timezone: 'Europe/Paris' });
  assert.throws(() => schedules.create(base), { code: 'SB_ERR_SCHEDULE_EXISTS' });
  assert.throws(() => schedules.get('nope'), { code: 'SB_ERR_NO_SUCH_SCHEDULE' });
  assert.throws(() => schedules.remove('nope'), { code: 'SB_ERR_NO_SUCH_SCHEDULE' });
  assert.throws(() => schedules.update('ok', { cron: 'nope' }), {
    code: 'SB_ERR_SCHEDULE_INVALID',
  });
});

test('timezones: an expression is read in its timezone, UTC by default', async (t) => {
  const { schedules } = await setUp(t);
  const utc = schedules.create({ name: 'utc', cron: '0 9 * * *', function: 'work' });
  const paris = schedules.create({
    name: 'paris',
    cron: '0 9 * * *',
    function: 'work',
    timezone: 'Europe/Paris',
  });
  assert.equal(new Date(utc.nextRunAt!).getUTCHours(), 9);
  const hour = Number(
    new Intl.DateTimeFormat('en', {
      timeZone: 'Europe/Paris',
      hour: 'numeric',
      hourCycle: 'h23',
    }).format(paris.nextRunAt!),
  );
  assert.equal(hour, 9);
  assert.equal(paris.timezone, 'Europe/Paris');
});

test('removing or disabling a schedule stops it; enabling plans from now', async (t) => {
  const { schedules, launcher } = await setUp(t);
  schedules.start();
  schedules.create({ name: 'a', cron: '* * * * * *', function: 'work' });
  await until(() => launcher.launches.length >= 1, 5_000, 'a first run');
  schedules.remove('a');
  const count = launcher.launches.length;
  await new Promise((resolve) => setTimeout(resolve, 2_200));
  assert.equal(launcher.launches.length, count, 'no run after the remove');

  const b = schedules.create({ name: 'b', cron: '* * * * * *', function: 'work', enabled: false });
  assert.equal(b.nextRunAt, null);
  await new Promise((resolve) => setTimeout(resolve, 1_200));
  assert.equal(launcher.launches.length, count, 'a disabled schedule fires nothing');
  const enabled = schedules.update('b', { enabled: true });
  assert.ok(enabled.nextRunAt! >= Date.now() - 1000);
  await until(() => launcher.launches.length > count, 5_000, 'b runs once enabled');
});

test('a run missed while the server was down runs once at start, then on time', async (t) => {
  const { db, store } = await setUp(t);
  const made = store.create({ name: 'nightly', cron: '0 3 * * *', function: 'work' });
  // The server was down through three fire times.
  const missed = made.nextRunAt! - 3 * 86_400_000;
  db.prepare('UPDATE schedules SET next_run_at = ? WHERE id = ?').run(missed, made.id);
  const { schedules, launcher } = withStore(t, db);
  schedules.start();
  await until(() => launcher.launches.length === 1, 5_000, 'the missed run');
  await new Promise((resolve) => setTimeout(resolve, 300));
  assert.equal(launcher.launches.length, 1, 'once, not once per missed fire time');
  const after = store.get('nightly');
  assert.equal(after.lastRunAt, missed);
  assert.equal(after.nextRunAt, made.nextRunAt, 'then on its usual time');
});

test('a run whose function is not registered yet waits for it (an uplink reconnecting)', async (t) => {
  const { db, store } = await setUp(t);
  const made = store.create({ name: 'later', cron: '0 3 * * *', function: 'work' });
  const missed = made.nextRunAt! - 86_400_000;
  db.prepare('UPDATE schedules SET next_run_at = ? WHERE id = ?').run(missed, made.id);
  const { schedules, launcher } = withStore(t, db);
  let refusals = 0;
  const launch = launcher.launch.bind(launcher);
  launcher.launch = (name, args, options) => {
    if (refusals < 2) {
      refusals++;
      throw new SwitchboardError('SB_ERR_NO_SUCH_FUNCTION', 'No function "work"');
    }
    return launch(name, args, options);
  };
  schedules.start();
  await until(() => launcher.launches.length === 1, 10_000, 'the run once the function is there');
  assert.equal(refusals, 2);
  const after = store.get('later');
  assert.equal(after.lastRunAt, missed);
  assert.equal(after.lastError, null);
  assert.equal(after.lastTaskId, launcher.launches[0]!.task);

  // Other refusals are not waited out: recorded at once.
  const denied = store.create({ name: 'denied', cron: '0 3 * * *', function: 'work' });
  db.prepare('UPDATE schedules SET next_run_at = ? WHERE id = ?').run(missed, denied.id);
  launcher.failWith = new SwitchboardError('SB_ERR_PERMISSION_DENIED', 'no');
  schedules.update('later', { args: [1] }); // a change made here looks again at once
  await until(() => store.get('denied').lastError !== null, 5_000, 'the refusal recorded');
  assert.equal(store.get('denied').lastError!.code, 'SB_ERR_PERMISSION_DENIED');
  assert.equal(store.get('denied').nextRunAt, made.nextRunAt);
});

test('define keeps the planned run when the timing is unchanged, replans when it changes', async (t) => {
  const { db, schedules } = await setUp(t);
  const made = schedules.define({ name: 'd', cron: '0 3 * * *', function: 'work' });
  const past = made.nextRunAt! - 86_400_000;
  db.prepare('UPDATE schedules SET next_run_at = ? WHERE id = ?').run(past, made.id);
  // A restart defining it again (same timing, new arguments) keeps the missed run.
  const again = schedules.define({ name: 'd', cron: '0 3 * * *', function: 'work', args: [2] });
  assert.equal(again.id, made.id);
  assert.equal(again.nextRunAt, past);
  assert.deepEqual(again.args, [2]);
  // Disabled by an operator: declaring it again without `enabled` leaves it disabled.
  schedules.update('d', { enabled: false });
  const kept = schedules.define({ name: 'd', cron: '0 3 * * *', function: 'work', args: [2] });
  assert.equal(kept.enabled, false);
  assert.equal(kept.nextRunAt, null);
  schedules.update('d', { enabled: true });
  const moved = schedules.define({ name: 'd', cron: '0 4 * * *', function: 'work', args: [2] });
  assert.equal(new Date(moved.nextRunAt!).getUTCHours(), 4);
  assert.ok(moved.nextRunAt! > Date.now());
});

test('a launch that fails is recorded on the schedule and the schedule goes on', async (t) => {
  const { schedules, launcher, log } = await setUp(t);
  launcher.failWith = new SwitchboardError('SB_ERR_NO_SUCH_FUNCTION', 'No function "work"');
  schedules.start();
  schedules.create({ name: 'f', cron: '* * * * * *', function: 'work' });
  await until(() => schedules.get('f').lastError !== null, 5_000, 'the failure recorded');
  assert.deepEqual(schedules.get('f').lastError, {
    code: 'SB_ERR_NO_SUCH_FUNCTION',
    message: 'No function "work"',
  });
  assert.equal(schedules.get('f').lastTaskId, null);
  assert.ok(log.problems.includes('schedule: launch failed'));
  launcher.failWith = undefined;
  await until(() => launcher.launches.length >= 1, 5_000, 'a run once the function works');
  await until(() => schedules.get('f').lastError === null, 5_000, 'the error cleared');
});

test('run-now launches at once and leaves the planned runs alone', async (t) => {
  const { schedules, launcher } = await setUp(t);
  const made = schedules.create({ name: 'r', cron: '0 3 * * *', function: 'work', args: ['x'] });
  const task = schedules.runNow('r');
  assert.equal(task.schedule, 'r');
  assert.deepEqual(
    launcher.launches.map((launch) => [launch.name, launch.args]),
    [['work', ['x']]],
  );
  assert.equal(schedules.get(made.id).nextRunAt, made.nextRunAt);
  const second = schedules.runNow(made.id);
  const history = schedules.history('r', { page: 1, perPage: 10 });
  assert.equal(history.total, 2);
  assert.deepEqual(
    history.items.map((run) => [run.id, run.name, run.status, run.schedule]),
    [
      [second.id, 'work', 'queued', 'r'],
      [task.id, 'work', 'queued', 'r'],
    ],
    'newest first',
  );
  const page2 = schedules.history('r', { page: 2, perPage: 1 });
  assert.deepEqual(
    page2.items.map((run) => run.id),
    [task.id],
  );
  assert.throws(() => schedules.history('zzz', { page: 1, perPage: 1 }), {
    code: 'SB_ERR_NO_SUCH_SCHEDULE',
  });
  launcher.failWith = new SwitchboardError('SB_ERR_NO_SUCH_FUNCTION');
  assert.throws(() => schedules.runNow('r'), { code: 'SB_ERR_NO_SUCH_FUNCTION' });
  assert.throws(() => schedules.runNow('zzz'), { code: 'SB_ERR_NO_SUCH_SCHEDULE' });
});

test('a run further away than setTimeout can wait is waited for, not fired at once', async (t) => {
  const { schedules, launcher } = await setUp(t);
  const warnings: string[] = [];
  const onWarning = (warning: Error) => warnings.push(warning.name);
  process.on('warning', onWarning);
  t.after(() => process.off('warning', onWarning));
  schedules.start();
  // Next 29 February: usually years away, always more than 24.8 days but in a leap February.
  const made = schedules.create({ name: 'leap', cron: '0 0 29 2 *', function: 'work' });
  if (made.nextRunAt! - Date.now() < 2 ** 31) return t.skip('29 February is too close');
  await new Promise((resolve) => setTimeout(resolve, 300));
  assert.equal(launcher.launches.length, 0);
  assert.deepEqual(warnings, []);
});

test('two schedulers sharing the schedules launch each run once (the claim seam)', async (t) => {
  const claimed = new Map<string, number | null>();
  const claims: ScheduleClaims = {
    ready: () => Promise.resolve(),
    claim: (id, fireAt, nextRunAt): Promise<ClaimResult> => {
      const key = `${id}.${fireAt}`;
      if (claimed.has(key)) return Promise.resolve({ won: false, nextRunAt: claimed.get(key)! });
      claimed.set(key, nextRunAt);
      return Promise.resolve({ won: true });
    },
  };
  const a = await setUp(t, claims);
  const b = withStore(t, a.db, claims);
  a.schedules.create({ name: 'both', cron: '* * * * * *', function: 'work' });
  a.schedules.start();
  b.schedules.start();
  const total = () => a.launcher.launches.length + b.launcher.launches.length;
  await until(() => total() >= 4, 10_000, 'four runs');
  await new Promise((resolve) => setTimeout(resolve, 200));
  const tasks = a.db.prepare("SELECT COUNT(*) AS n FROM tasks WHERE schedule = 'both'").get() as {
    n: number;
  };
  assert.equal(tasks.n, total());
  assert.equal(claimed.size, total(), 'one launch per claimed fire time');
});
