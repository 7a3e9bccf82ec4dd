import type { FastifyInstance } from 'fastify';
import type { ScheduleInput } from '../../schedules/schedule-types.ts';
import { adminRoute } from './admin-route.ts';
import type { AdminServices } from './admin-services.ts';
import { paginate, paginateStored } from './pagination.ts';
import { checkBody, type BodySchema } from './request-body.ts';
import { taskAdminView } from './task-routes.ts';
import { scheduleView } from './views.ts';

/** What a schedule's body may hold; `name` only when creating (its history is kept under it). */
const CHANGES: BodySchema = {
  cron: { type: 'string', required: false },
  function: { type: 'string', required: false },
  args: { type: 'array', required: false },
  timezone: { type: 'string|null', required: false },
  enabled: { type: 'boolean', required: false },
};

/**
 * `schedules/`: list, create (a taken name is 409 SB_ERR_SCHEDULE_EXISTS), get, change, remove,
 * run now (202 with the task, as `tasks/{id}/` shows it), and each schedule's history (its
 * tasks, newest first, as `tasks/?schedule=<name>` lists them). A schedule
 * is named in the path by its id or its name; an unknown one is 404 SB_ERR_NO_SUCH_SCHEDULE,
 * a bad expression or timezone 400 SB_ERR_SCHEDULE_INVALID.
 */
export function scheduleRoutes(app: FastifyInstance, core: Pick<AdminServices, 'schedules'>): void {
  const { schedules } = core;
  adminRoute(app, 'GET', '/schedules/', (request) =>
    paginate(schedules.list(), request.query, scheduleView),
  );

  adminRoute(app, 'POST', '/schedules/', (request, reply) => {
    const body = checkBody(request.body, {
      name: { type: 'string', required: true },
      ...CHANGES,
      cron: { type: 'string', required: true },
      function: { type: 'string', required: true },
    });
    const created = schedules.create(body as unknown as ScheduleInput);
    void reply.code(201);
    return scheduleView(created);
  });

  adminRoute(app, 'GET', '/schedules/:id/', (request) =>
    scheduleView(schedules.get(idOf(request.params))),
  );

  adminRoute(app, 'PATCH', '/schedules/:id/', (request) => {
    const body = checkBody(request.body, CHANGES);
    return scheduleView(schedules.update(idOf(request.params), body));
  });

  adminRoute(app, 'DELETE', '/schedules/:id/', (request, reply) => {
    schedules.remove(idOf(request.params));
    void reply.code(204).send();
  });

  adminRoute(app, 'POST', '/schedules/:id/run/', (request, reply) => {
    const task = schedules.runNow(idOf(request.params));
    void reply.code(202);
    return taskAdminView(task);
  });

  adminRoute(app, 'GET', '/schedules/:id/history/', (request) => {
    const id = idOf(request.params);
    return paginateStored(
      request.query,
      (page, perPage) => schedules.history(id, { page, perPage }),
      taskAdminView,
    );
  });
}

function idOf(params: unknown): string {
  return (params as { id: string }).id;
}
