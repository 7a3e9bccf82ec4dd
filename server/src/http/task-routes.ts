import {
  SwitchboardError,
  TASK_STATUSES,
  isTrustedCaller,
  type CallerInfo,
} from '@switchboard/shared';
import type { FastifyInstance, FastifyReply, RouteShorthandOptions } from 'fastify';
import type { Tasks } from '../tasks/tasks.ts';
import { taskPath, taskView } from '../tasks/task-view.ts';
import type { TaskStatus } from '../tasks/task-types.ts';
import { requestIdOf } from '../observe/request-id.ts';
import { identifyCaller, type CallerDeps } from './admission.ts';
import { argumentsOf, sendValue, timeoutOf } from './call-routes.ts';
import { appOriginOf } from './site.ts';

/** Longest `?waitMs=` of `GET /_/tasks/:id` (a long poll stays under usual proxy timeouts). */
export const MAX_TASK_WAIT_MS = 30_000;
/** Tasks per page of `GET /_/tasks` unless `results_per_page` says otherwise, and the most. */
export const DEFAULT_TASKS_PER_PAGE = 20;
export const MAX_TASKS_PER_PAGE = 100;

/**
 * `/_/tasks` (docs/tasks.md): launch a background task with the callers and permissions of
 * `/_/call` (`gate`: the same admission before any body is read), read it, long-poll its end,
 * kill it, list tasks (server keys).
 */
export function taskRoutes(
  app: FastifyInstance,
  deps: CallerDeps & { tasks: Tasks },
  gate: RouteShorthandOptions,
): void {
  const { tasks } = deps;

  app.post<{ Params: { name: string } }>('/_/tasks/:name', gate, (request, reply) => {
    const caller = request.switchboardCaller ?? { kind: 'http' };
    const task = tasks.launch(request.params.name, argumentsOf(request), {
      caller,
      timeoutMs: timeoutOf(request),
      requestId: requestIdOf(request),
    });
    const path = taskPath(task.id);
    void reply.code(202).header('location', appOriginOf(request, deps.options) + path);
    return sendValue(request, reply, { id: task.id, url: path, status: task.status });
  });

  app.get<{ Params: { id: string }; Querystring: { waitMs?: number } }>(
    '/_/tasks/:id',
    {
      schema: {
        querystring: {
          type: 'object',
          properties: { waitMs: { type: 'integer', minimum: 0, maximum: MAX_TASK_WAIT_MS } },
          additionalProperties: false,
        },
      },
    },
    async (request, reply) => {
      const caller = await identifyCaller(deps, request);
      const { id } = request.params;
      const waitMs = request.query.waitMs ?? 0;
      const task = await waitUnlessGone(reply, (signal) => tasks.wait(id, caller, waitMs, signal));
      return sendValue(request, reply, taskView(task));
    },
  );

  app.delete<{ Params: { id: string } }>('/_/tasks/:id', async (request, reply) => {
    const caller = await identifyCaller(deps, request);
    return sendValue(request, reply, taskView(tasks.kill(request.params.id, caller)));
  });

  app.get<{
    Querystring: { name?: string; status?: TaskStatus; page?: number; results_per_page?: number };
  }>(
    '/_/tasks',
    {
      schema: {
        querystring: {
          type: 'object',
          properties: {
            name: { type: 'string', minLength: 1, maxLength: 256 },
            status: { type: 'string', enum: [...TASK_STATUSES] },
            page: { type: 'integer', minimum: 1, maximum: 1_000_000 },
            results_per_page: { type: 'integer', minimum: 1, maximum: MAX_TASKS_PER_PAGE },
          },
          additionalProperties: false,
        },
      },
    },
    async (request, reply) => {
      mustBeTrusted(await identifyCaller(deps, request));
      const {
        name,
        status,
        page = 1,
        results_per_page: perPage = DEFAULT_TASKS_PER_PAGE,
      } = request.query;
      const { items, total } = tasks.list({ name, status, page, perPage });
      return sendValue(request, reply, {
        num_results: total,
        total_pages: Math.ceil(total / perPage),
        page,
        objects: items.map(taskView),
      });
    },
  );
}

/** Runs a wait that stops early when the HTTP client goes away. */
async function waitUnlessGone<T>(
  reply: FastifyReply,
  wait: (signal: AbortSignal) => Promise<T>,
): Promise<T> {
  const controller = new AbortController();
  const onClose = () => {
    if (!reply.raw.writableFinished) controller.abort();
  };
  reply.raw.on('close', onClose);
  try {
    return await wait(controller.signal);
  } finally {
    reply.raw.off('close', onClose);
  }
}

/** Listing every task is for server keys (and app code): others see only tasks by id. */
function mustBeTrusted(caller: CallerInfo): void {
  if (!isTrustedCaller(caller)) {
    throw new SwitchboardError(
      'SB_ERR_PERMISSION_DENIED',
      'Listing tasks needs a server key; a task is read by its id',
    );
  }
}
