import type { CallerInfo, TaskInfo } from '@switchboard/shared';

export {
  TASK_STATUSES,
  isFinishedStatus,
  type TaskStatus,
  type TaskError,
} from '@switchboard/shared';

/** A task as this server keeps it: what callers see, and the server that runs its call. */
export interface TaskRecord extends TaskInfo {
  /**
   * The server that owns the task and holds its call (its node name in a cluster; undefined
   * when standalone), also when the call runs on another server's provider.
   */
  node?: string;
}

/** What a launch may say besides the function and its arguments. */
export interface LaunchOptions {
  /** Who launches: decides which functions it may run, as for a call. */
  caller: CallerInfo;
  /** Deadline for the task's call; none by default. */
  timeoutMs?: number;
  /** Set when a schedule launches it (kept in the record: the schedule's history). */
  schedule?: string;
  /** Request id carried to the provider, for logs. */
  requestId?: string;
}

/** Launches background tasks: what schedules and every launch route use. */
export interface TaskLauncher {
  /**
   * Records the task and starts it on a provider of `name`; throws a coded error (the caller
   * may not call it, no such function, bad options) before anything is recorded.
   */
  launch(name: string, args: unknown[], options: LaunchOptions): TaskRecord;
}
