import type { FastifyBaseLogger } from 'fastify';
import type { ScheduleStore } from '../store/schedule-store.ts';
import type { TaskQuery } from '../store/task-store.ts';
import type { TaskLauncher, TaskRecord } from '../tasks/task-types.ts';
import { Scheduler } from './scheduler.ts';
import type {
  ScheduleChanges,
  ScheduleClaims,
  ScheduleInput,
  ScheduleRecord,
} from './schedule-types.ts';

/** What schedules need of the tasks: launching, and listing a schedule's runs. */
export interface ScheduleTasks extends TaskLauncher {
  list(query: TaskQuery): ScheduleHistory;
}

/** A page of a schedule's runs, newest first, and how many there are. */
export interface ScheduleHistory {
  items: TaskRecord[];
  total: number;
}

/**
 * A server's schedules (`switchboard.schedules`, the admin API): the store's records, with the
 * scheduler told of every change made here, and runs launched on demand. Schedules are named
 * by id or by name.
 */
export class Schedules {
  private readonly scheduler: Scheduler;

  constructor(
    private readonly store: ScheduleStore,
    /** Launches runs, and lists them (the tasks whose `schedule` is a schedule's name). */
    private readonly tasks: ScheduleTasks,
    deps: { claims: ScheduleClaims; log: FastifyBaseLogger },
  ) {
    this.scheduler = new Scheduler({ store, launcher: tasks, ...deps });
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
    return this.tasks.launch(schedule.function, schedule.args, {
      caller: { kind: 'app' },
      schedule: schedule.name,
    });
  }

  /**
   * The schedule's runs (the tasks it launched, kept for the tasks' retention period), newest
   * first: page `page` (from 1) of `perPage`, and how many there are. SB_ERR_NO_SUCH_SCHEDULE.
   */
  history(ref: string, page: { page: number; perPage: number }): ScheduleHistory {
    const { name } = this.store.get(ref);
    return this.tasks.list({ schedule: name, ...page });
  }

  private changed(record: ScheduleRecord): ScheduleRecord {
    this.scheduler.changed();
    return record;
  }
}
