import { SwitchboardError, TASK_STATUSES, type CallerInfo } from '@switchboard/shared';
import type { FastifyInstance } from 'fastify';
import type { TaskError, TaskRecord, TaskStatus } from '../../tasks/task-types.ts';
import { adminRoute } from './admin-route.ts';
import type { AdminServices } from './admin-services.ts';
import { paginateStored } from './pagination.ts';

/** A background task as the admin API shows it: every field, `null` where it does not apply. */
export interface TaskAdminView {
  id: string;
  name: string;
  status: TaskStatus;
  state: unknown;
  result: unknown;
  error: TaskError | null;
  schedule: string | null;
  provider: string | null;
  node: string | null;
  timeout_ms: number | null;
  created_at: string;
  started_at: string | null;
  ended_at: string | null;
}

/** The operator acts as the server itself: every task is visible and may be killed. */
const OPERATOR: CallerInfo = { kind: 'app' };

export function taskAdminView(record: TaskRecord): TaskAdminView {
  return {
    id: record.id,
    name: record.name,
    status: record.status,
    state: record.state ?? null,
    result: record.status === 'completed' ? (record.result ?? null) : null,
    error: record.error ?? null,
    schedule: record.schedule ?? null,
    provider: record.provider ?? null,
    node: record.node ?? null,
    timeout_ms: record.timeoutMs ?? null,
    created_at: new Date(record.createdAt).toISOString(),
    started_at: isoOrNull(record.startedAt),
    ended_at: isoOrNull(record.endedAt),
  };
}

/**
 * `tasks/`: background tasks (docs/tasks.md), newest first, filtered by `name`, `status` and
 * `schedule`; get one; kill one (DELETE, the task as it is after; an ended task is left as it
 * is). An unknown id is 404 SB_ERR_NO_SUCH_TASK.
 */
export function adminTaskRoutes(app: FastifyInstance, core: Pick<AdminServices, 'tasks'>): void {
  adminRoute(app, 'GET', '/tasks/', (request) => {
    const filters = filtersOf(request.query);
    return paginateStored(
      request.query,
      (page, perPage) => core.tasks.list({ ...filters, page, perPage }),
      taskAdminView,
    );
  });

  adminRoute(app, 'GET', '/tasks/:id/', (request) => {
    const { id } = request.params as { id: string };
    return taskAdminView(core.tasks.get(id, OPERATOR));
  });

  adminRoute(app, 'DELETE', '/tasks/:id/', (request) => {
    const { id } = request.params as { id: string };
    return taskAdminView(core.tasks.kill(id, OPERATOR));
  });
}

interface TaskFilters {
  name?: string;
  status?: TaskStatus;
  schedule?: string;
}

function filtersOf(query: unknown): TaskFilters {
  const raw = (query ?? {}) as Record<string, unknown>;
  const filters: TaskFilters = {};
  for (const field of ['name', 'schedule'] as const) {
    const value = raw[field];
    if (value === undefined) continue;
    if (typeof value !== 'string' || value === '') throw badFilter(field, value);
    filters[field] = value;
  }
  const { status } = raw;
  if (status !== undefined) {
    if (!(TASK_STATUSES as readonly unknown[]).includes(status)) throw badFilter('status', status);
    filters.status = status as TaskStatus;
  }
  return filters;
}

function badFilter(field: string, value: unknown): SwitchboardError {
  const expected =
    field === 'status' ? `one of ${TASK_STATUSES.join(', ')}` : 'a non-empty string, once';
  return new SwitchboardError(
    'SB_ERR_ADMIN_BAD_REQUEST',
    `${field} must be ${expected}, got ${JSON.stringify(value)}`,
  );
}

function isoOrNull(at: number | undefined): string | null {
  return at === undefined ? null : new Date(at).toISOString();
}
