import type { CallerInfo } from '@switchboard/shared';

/** Where a background task is in its life (docs/tasks.md). */
export const TASK_STATUSES = ['queued', 'running', 'completed', 'failed', 'killed'] as const;
export type TaskStatus = (typeof TASK_STATUSES)[number];

/** Statuses a task never leaves. */
export function isFinished(status: TaskStatus): boolean {
  return status === 'completed' || status === 'failed' || status === 'killed';
}

/** Why a task failed or was killed, as the error of a call would say it. */
export interface TaskError {
  code: string;
  message: string;
}

/** A task as callers see it (app code, the HTTP API, uplinks); times in ms since the epoch. */
export interface TaskRecord {
  id: string;
  /** The function it runs. */
  name: string;
  status: TaskStatus;
  /** The last value the task gave `setState` (undefined until it does). */
  state: unknown;
  /** The function's return value, once `completed`. */
  result?: unknown;
  /** Once `failed` or `killed`. */
  error?: TaskError;
  /** The schedule that launched it, if one did. */
  schedule?: string;
  /** The provider running it (uplink connection id, `app`, or another server's name). */
  provider?: string;
  /** The server that runs its call (its node name in a cluster). */
  node?: string;
  /** Deadline given at launch; undefined: none. */
  timeoutMs?: number;
  createdAt: number;
  startedAt?: number;
  endedAt?: number;
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
