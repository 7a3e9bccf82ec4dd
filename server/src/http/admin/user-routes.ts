import { SwitchboardError, type NewUser } from '@switchboard/shared';
import type { FastifyInstance } from 'fastify';
import { adminRoute } from './admin-route.ts';
import type { AdminServices } from './admin-services.ts';
import { paginate } from './pagination.ts';
import { checkBody } from './request-body.ts';
import { userView } from './views.ts';

/**
 * `users/`: list, create, get, update, delete, through the user store (which validates login
 * names, passwords and `data`, and hashes passwords with scrypt; no answer holds a hash).
 */
export function userRoutes(app: FastifyInstance, core: Pick<AdminServices, 'users'>): void {
  adminRoute(app, 'GET', '/users/', (request) =>
    paginate(core.users.list(), request.query, userView),
  );

  adminRoute(app, 'POST', '/users/', async (request, reply) => {
    const body = checkBody(request.body, {
      email: { type: 'string', required: true },
      password: { type: 'string', required: true },
      enabled: { type: 'boolean', required: false },
      data: { type: 'object', required: false },
    });
    const user = await core.users.create(body as unknown as NewUser);
    void reply.code(201);
    return userView(user);
  });

  adminRoute(app, 'GET', '/users/:id/', (request) => {
    const id = userIdOf(request.params);
    const user = core.users.find(id);
    if (user === undefined) throw noSuchUser(id);
    return userView(user);
  });

  adminRoute(app, 'PATCH', '/users/:id/', async (request) => {
    const body = checkBody(request.body, {
      email: { type: 'string', required: false },
      password: { type: 'string', required: false },
      enabled: { type: 'boolean', required: false },
      data: { type: 'object', required: false },
    });
    return userView(await core.users.update(userIdOf(request.params), body));
  });

  adminRoute(app, 'DELETE', '/users/:id/', (request, reply) => {
    const id = userIdOf(request.params);
    if (!core.users.remove(id)) throw noSuchUser(id);
    void reply.code(204).send();
  });
}

/** A user id in a path; anything but a plain positive integer names no user. */
export function userIdOf(params: unknown): number {
  const { id } = params as { id: string };
  const number = /^[1-9]\d{0,14}$/.test(id) ? Number(id) : NaN;
  if (!Number.isSafeInteger(number)) throw noSuchUser(id);
  return number;
}

function noSuchUser(id: number | string): SwitchboardError {
  return new SwitchboardError('SB_ERR_NO_SUCH_USER', `No user with id ${JSON.stringify(id)}`);
}
