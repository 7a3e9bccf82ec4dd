import type { Task } from '@switchboard/shared';
import type { TaskRecord } from '../tasks/task-types.ts';
import type { ScheduleChanges, ScheduleRecord } from './schedule-types.ts';
import type { Schedules } from './schedules.ts';

/** Runs per page of `history()` unless asked otherwise. */
const DEFAULT_PER_PAGE = 50;

/** `switchboard.schedules`: schedules as app code handles them, named by id or name. */
export interface ScheduleApi {
  /** Every schedule, by name. */
  list(): ScheduleRecord[];
  /** SB_ERR_NO_SUCH_SCHEDULE if there is none. */
  get(idOrName: string): ScheduleRecord;
  /**
   * Changes some of its fields (not its name); a new expression, timezone or enabling plans
   * its next run from now. SB_ERR_NO_SUCH_SCHEDULE, SB_ERR_SCHEDULE_INVALID.
   */
  update(idOrName: string, changes: ScheduleChanges): ScheduleRecord;
  /** Removes it (its runs stay with the tasks); returns it. SB_ERR_NO_SUCH_SCHEDULE. */
  remove(idOrName: string): ScheduleRecord;
  /**
   * Launches a run now, on this server (enabled or not; its planned runs are unchanged), and
   * returns the task. Throws what a launch throws (SB_ERR_NO_SUCH_FUNCTION...).
   */
  runNow(idOrName: string): Task;
  /** Its runs (the tasks it launched), newest first: a page of them and how many there are. */
  history(
    idOrName: string,
    page?: { page?: number; perPage?: number },
  ): { items: TaskRecord[]; total: number };
}

/** The app-code face of `schedules`; `task(id)` makes a launched run a Task. */
export function scheduleApi(schedules: Schedules, task: (id: string) => Task): ScheduleApi {
  return {
    list: () => schedules.list(),
    get: (ref) => schedules.get(ref),
    update: (ref, changes) => schedules.update(ref, changes),
    remove: (ref) => schedules.remove(ref),
    runNow: (ref) => task(schedules.runNow(ref).id),
    history: (ref, page = {}) =>
      schedules.history(ref, { page: page.page ?? 1, perPage: page.perPage ?? DEFAULT_PER_PAGE }),
  };
}
