import {
  SERVER_ONLY,
  SwitchboardError,
  TASK_FUNCTIONS,
  TASK_STATUSES,
  getCallContext,
  type FunctionAccess,
} from '@switchboard/shared';
import type { AppFunction } from '../hub/in-process-provider.ts';
import type { Tasks } from '../tasks/tasks.ts';
import { taskWire } from '../tasks/task-view.ts';
import type { TaskStatus } from '../tasks/task-types.ts';

/** Longest wait of one `sb.tasks.wait` call (an uplink loops for longer). */
export const MAX_BUILTIN_WAIT_MS = 60_000;
const MAX_LIST_PER_PAGE = 100;

/** Open to client keys too: the task then runs only what that caller may call. */
const ANY_CALLER: FunctionAccess = { allowClients: true, requireUser: 'no' };

/**
 * The `sb.tasks.*` built-ins: background tasks for uplinks in any language (docs/tasks.md,
 * docs/protocol.md). Each acts as its caller: a client key launches only functions it may call
 * and sees only its own tasks; listing every task and setting a task's state need a server key.
 */
export function taskFunctions(
  tasks: Tasks,
): Array<[name: string, fn: AppFunction, access: FunctionAccess]> {
  const caller = () => getCallContext().caller;
  return [
    [
      TASK_FUNCTIONS.launch,
      (name: unknown, args: unknown, options?: { timeoutMs?: unknown } | null) => {
        if (typeof name !== 'string') throw invalid('the function name must be a string');
        const timeoutMs = options?.timeoutMs ?? undefined;
        if (timeoutMs !== undefined && typeof timeoutMs !== 'number')
          throw invalid('timeoutMs must be a positive integer');
        return taskWire(
          tasks.launch(name, args as unknown[], {
            caller: caller(),
            timeoutMs,
            requestId: getCallContext().requestId,
          }),
        );
      },
      ANY_CALLER,
    ],
    [TASK_FUNCTIONS.get, (id: string) => taskWire(tasks.get(id, caller())), ANY_CALLER],
    [
      TASK_FUNCTIONS.wait,
      async (id: string, waitMs: unknown) => {
        const wait = typeof waitMs === 'number' && waitMs > 0 ? waitMs : 0;
        const { signal } = getCallContext();
        return taskWire(
          await tasks.wait(id, caller(), Math.min(wait, MAX_BUILTIN_WAIT_MS), signal),
        );
      },
      ANY_CALLER,
    ],
    [TASK_FUNCTIONS.kill, (id: string) => taskWire(tasks.kill(id, caller())), ANY_CALLER],
    [
      TASK_FUNCTIONS.list,
      (query?: { name?: string; status?: string; page?: number; perPage?: number } | null) => {
        const { name, status, page = 1, perPage = 20 } = query ?? {};
        if (status !== undefined && !TASK_STATUSES.includes(status as TaskStatus))
          throw invalid(`status must be one of ${TASK_STATUSES.join(', ')}`);
        if (!isCount(page) || !isCount(perPage) || perPage > MAX_LIST_PER_PAGE)
          throw invalid(
            `page and perPage must be positive integers (perPage ≤ ${MAX_LIST_PER_PAGE})`,
          );
        const listed = tasks.list({
          name,
          status: status as TaskStatus | undefined,
          page,
          perPage,
        });
        return { items: listed.items.map(taskWire), total: listed.total };
      },
      SERVER_ONLY,
    ],
    [
      TASK_FUNCTIONS.setState,
      async (id: string, state: unknown) => {
        await tasks.setState(id, state, caller());
        return null;
      },
      SERVER_ONLY,
    ],
  ];
}

function isCount(value: unknown): value is number {
  return Number.isSafeInteger(value) && (value as number) > 0;
}

function invalid(message: string): SwitchboardError {
  return new SwitchboardError('SB_ERR_OPTIONS_INVALID', message);
}
