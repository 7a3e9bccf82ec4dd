import type { FastifyBaseLogger } from 'fastify';
import type { ScheduleRun, ScheduleRuns } from '../store/schedule-runs.ts';
import type { ScheduleStore } from '../store/schedule-store.ts';
import type { TaskLauncher, TaskRecord } from '../tasks/task-types.ts';
import { Scheduler } from './scheduler.ts';
import type {
  ScheduleChanges,
  ScheduleClaims,
  ScheduleInput,
  ScheduleRecord,
} from './schedule-types.ts';

/**
 * A server's schedules (`switchboard.schedules`, the admin API): the store's records, with the
 * scheduler told of every change made here, and runs launched on demand. Schedules are named
 * by id or by name.
 */
export class Schedules {
  private readonly scheduler: Scheduler;

  private readonly store: ScheduleStore;
  private readonly runs: ScheduleRuns;

  constructor(
    stores: { schedules: ScheduleStore; runs: ScheduleRuns },
    private readonly launcher: TaskLauncher,
    deps: { claims: ScheduleClaims; log: FastifyBaseLogger },
  ) {
    this.store = stores.schedules;
    this.runs = stores.runs;
    this.scheduler = new Scheduler({ store: this.store, launcher, ...deps });
  }

  /** Starts launching runs (the server is listening). */
  start(): void {
    this.scheduler.start();
  }

  /** Stops launching runs (the server is closing). */
  close(): void {
    this.scheduler.close();
  }

  /**
   * Creates the schedule `input.name`, or makes the one of that name be as given (its planned
   * run kept unless its timing changes). SB_ERR_SCHEDULE_INVALID.
   */
  define(input: ScheduleInput): ScheduleRecord {
    return this.changed(this.store.define(input));
  }

  /** Creates a schedule. SB_ERR_SCHEDULE_INVALID, SB_ERR_SCHEDULE_EXISTS. */
  create(input: ScheduleInput): ScheduleRecord {
    return this.changed(this.store.create(input));
  }

  /** Every schedule, by name. */
  list(): ScheduleRecord[] {
    return this.store.list();
  }

  /** The schedule with this id or name. SB_ERR_NO_SUCH_SCHEDULE. */
  get(ref: string): ScheduleRecord {
    return this.store.get(ref);
  }

  /**
   * Changes a schedule; a new expression, timezone or enabling plans its next run from now.
   * SB_ERR_NO_SUCH_SCHEDULE, SB_ERR_SCHEDULE_INVALID.
   */
  update(ref: string, changes: ScheduleChanges): ScheduleRecord {
    return this.changed(this.store.update(ref, changes));
  }

  /** Removes a schedule; its runs (tasks) stay. SB_ERR_NO_SUCH_SCHEDULE. */
  remove(ref: string): ScheduleRecord {
    return this.changed(this.store.remove(ref));
  }

  /**
   * Launches a run now, on this server, whether the schedule is enabled or not; its planned
   * runs are unchanged. Throws what the launch throws (no such function, no provider...).
   */
  runNow(ref: string): TaskRecord {
    const schedule = this.store.get(ref);
    return this.launcher.launch(schedule.function, schedule.args, {
      caller: { kind: 'app' },
      schedule: schedule.name,
    });
  }

  /**
   * The schedule's runs (the tasks it launched, kept for the tasks' retention period), newest
   * first: `limit` of them from `offset`, and how many there are. SB_ERR_NO_SUCH_SCHEDULE.
   */
  history(ref: string, offset: number, limit: number): { total: number; runs: ScheduleRun[] } {
    const { name } = this.store.get(ref);
    return { total: this.runs.count(name), runs: this.runs.page(name, offset, limit) };
  }

  private changed(record: ScheduleRecord): ScheduleRecord {
    this.scheduler.changed();
    return record;
  }
}
