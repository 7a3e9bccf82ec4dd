import { SwitchboardError, isErrorCode, type CallerInfo } from '@switchboard/shared';
import type { Tasks } from '../tasks/tasks.ts';
import type { TaskRecord } from '../tasks/task-types.ts';
import { AnvilLiveObject } from './anvil-values.ts';

// Anvil scripts' background tasks mapped onto Switchboard's (docs/tasks.md):
// `anvil.server.launch_background_task`, `get_background_task` and `list_background_tasks` reach
// the server's tasks, and the Task objects they return are live objects of Anvil's backend
// `anvil.private.BackgroundTask` whose methods are answered here.

/** What the task functions use of the server's tasks. */
export type TaskDesk = Pick<Tasks, 'launch' | 'get' | 'list' | 'kill'>;

/** Anvil's live-object backend of a task. */
export const TASK_BACKEND = 'anvil.private.BackgroundTask';
/** The methods of Anvil's Task objects (background_tasks.clj). */
const TASK_METHODS = [
  'get_id',
  'get_termination_status',
  'get_error',
  'get_state',
  'get_return_value',
  'get_task_name',
  'get_start_time',
  'is_completed',
  'is_running',
  'kill',
] as const;
/** How many tasks `list_background_tasks()` gives: the newest ones. */
const LIST_LIMIT = 100;

/** A call of one of the task functions, from a script with this caller. */
export interface TaskCall {
  readonly args: unknown[];
  readonly kwargs: Record<string, unknown>;
  readonly caller: CallerInfo;
}

/** Task `id` as the script holds it. */
function taskObject(id: string): AnvilLiveObject {
  return new AnvilLiveObject(TASK_BACKEND, id, TASK_METHODS);
}

/**
 * `anvil.private.background_tasks.launch` (args `[name, *args]`; keyword arguments arrive as
 * one last object argument, as in every call from a script), `get_by_id` and `list`.
 */
type TaskFunction = (call: TaskCall, tasks: TaskDesk) => unknown;

export const TASK_PRIVATE_FUNCTIONS: ReadonlyMap<string, TaskFunction> = new Map<
  string,
  TaskFunction
>([
  [
    'background_tasks.launch',
    ({ args, kwargs, caller }, tasks) => {
      const [name, ...rest] = args;
      if (typeof name !== 'string')
        throw new SwitchboardError('SB_ERR_OPTIONS_INVALID', 'the task name must be a string');
      const launchArgs = Object.keys(kwargs).length === 0 ? rest : [...rest, kwargs];
      return taskObject(tasks.launch(name, launchArgs, { caller }).id);
    },
  ],
  [
    'background_tasks.get_by_id',
    ({ args, caller }, tasks) => taskObject(tasks.get(String(args[0]), caller).id),
  ],
  [
    'background_tasks.list',
    ({ caller }, tasks) => {
      const { items } = tasks.list({ page: 1, perPage: LIST_LIMIT });
      return items.filter((task) => visible(tasks, task.id, caller)).map((t) => taskObject(t.id));
    },
  ],
]);

function visible(tasks: TaskDesk, id: string, caller: CallerInfo): boolean {
  try {
    tasks.get(id, caller);
    return true;
  } catch {
    return false;
  }
}

/**
 * A method called on a Task object (`task.get_state()`, …), answered from the task as it is now;
 * a task the caller may not see is `anvil.server.BackgroundTaskNotFound`.
 */
export function callTaskMethod(
  method: string,
  id: string,
  call: TaskCall,
  tasks: TaskDesk,
): unknown {
  const record = tasks.get(id, call.caller);
  const running = record.status === 'queued' || record.status === 'running';
  switch (method) {
    case 'get_id':
      return record.id;
    case 'get_task_name':
      return record.name;
    case 'get_start_time':
      return new Date(record.startedAt ?? record.createdAt);
    case 'is_running':
      return running;
    case 'get_termination_status':
      return running ? null : record.status;
    case 'get_state':
      // Anvil's task_state starts as an empty dict.
      return record.state ?? {};
    case 'is_completed':
      // As on Anvil: true once completed, false while running, the error once failed or killed.
      if (running || record.status === 'completed') return record.status === 'completed';
      throw taskError(record);
    case 'get_error':
      if (record.error !== undefined) throw taskError(record);
      return null;
    case 'get_return_value':
      if (record.error !== undefined) throw taskError(record);
      return record.status === 'completed' ? (record.result ?? null) : null;
    case 'kill':
      tasks.kill(id, call.caller);
      return null;
    default:
      throw new SwitchboardError(
        'SB_ERR_ANVIL_UNSUPPORTED',
        `Unsupported BackgroundTask method: ${method}`,
      );
  }
}

/** Why the task failed or was killed, with its own code (a function's error keeps its code). */
function taskError(record: TaskRecord): SwitchboardError {
  const { code, message } = record.error ?? { code: 'SB_ERR_INTERNAL', message: 'no error kept' };
  return new SwitchboardError(isErrorCode(code) ? code : 'SB_ERR_INTERNAL', message);
}
