import { isErrorCode, type ErrorCode } from '../errors/error-codes.ts';
import { SwitchboardError } from '../errors/switchboard-error.ts';

/** Where a background task is in its life (docs/tasks.md). */
export const TASK_STATUSES = ['queued', 'running', 'completed', 'failed', 'killed'] as const;
export type TaskStatus = (typeof TASK_STATUSES)[number];

/** Statuses a task never leaves. */
export function isFinishedStatus(status: TaskStatus): boolean {
  return status === 'completed' || status === 'failed' || status === 'killed';
}

/** Task ids: `tsk_` and 22 URL-safe base64 characters (128 random bits). */
const TASK_ID = /^tsk_[A-Za-z0-9_-]{22}$/;

export function isTaskId(value: unknown): value is string {
  return typeof value === 'string' && TASK_ID.test(value);
}

/** Why a task failed or was killed, as a call's error would say it. */
export interface TaskError {
  code: string;
  message: string;
}

/** A task as its launcher sees it; times in ms since the epoch. */
export interface TaskInfo {
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
  /** Deadline given at launch; undefined: none. */
  timeoutMs?: number;
  createdAt: number;
  startedAt?: number;
  endedAt?: number;
}

/** Options of a launch. */
export interface TaskLaunchOptions {
  /** Deadline for the task's call; by default it has none. */
  timeoutMs?: number;
}

/**
 * A background task, wherever it was launched from. `status` is the last one seen (live on the
 * server; refreshed by `info()`, `state()` and `result()` on an uplink).
 */
export interface Task<T = unknown> {
  readonly id: string;
  readonly status: TaskStatus;
  /** The whole record, fetched now. */
  info(): Promise<TaskInfo>;
  /** The last value the task gave `setState`. */
  state(): Promise<unknown>;
  /**
   * Waits for the end: the return value when `completed`; rejects with the task's error
   * (a SwitchboardError with its code) when `failed` or `killed`.
   */
  result(): Promise<T>;
  /** Kills it: the handler's signal fires and the status becomes `killed` (no-op once ended). */
  kill(): Promise<void>;
}

/** The built-in functions (reserved `sb.` names) behind tasks, for uplinks in any language. */
export const TASK_FUNCTIONS = {
  launch: 'sb.tasks.launch',
  get: 'sb.tasks.get',
  wait: 'sb.tasks.wait',
  kill: 'sb.tasks.kill',
  list: 'sb.tasks.list',
  setState: 'sb.tasks.setState',
} as const;

/**
 * What `task.result()` gives for an ended task: its return value when `completed`, else its
 * error thrown as a SwitchboardError with the task's code.
 */
export function taskOutcome(info: TaskInfo): unknown {
  if (info.status === 'completed') return info.result;
  const { code, message } = info.error ?? { code: 'SB_ERR_INTERNAL', message: 'no error kept' };
  const known: ErrorCode = isErrorCode(code) ? code : 'SB_ERR_INTERNAL';
  throw new SwitchboardError(known, message);
}
