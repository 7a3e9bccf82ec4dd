import { SwitchboardError, type KeyKind } from '@switchboard/shared';
import type { FastifyInstance } from 'fastify';
import { adminRoute } from './admin-route.ts';
import type { AdminServices } from './admin-services.ts';
import { paginate } from './pagination.ts';
import { checkBody } from './request-body.ts';
import { keyView } from './views.ts';

/**
 * `keys/`: list, create (the secret in the answer, once; `functions`/`endpoints` scope a server
 * key; a name taken by an active key is 409 SB_ERR_KEY_EXISTS), get, revoke (closes live uplinks).
 */
export function keyRoutes(
  app: FastifyInstance,
  core: Pick<AdminServices, 'keys' | 'revokeKey'>,
): void {
  adminRoute(app, 'GET', '/keys/', (request) => paginate(core.keys.list(), request.query, keyView));

  adminRoute(app, 'POST', '/keys/', (request, reply) => {
    const body = checkBody(request.body, {
      name: { type: 'string', required: true },
      kind: { type: 'string', required: true },
      functions: { type: 'string[]', required: false },
      endpoints: { type: 'string[]', required: false },
    });
    const created = core.keys.create(body.name as string, body.kind as KeyKind, {
      functions: body.functions as string[] | undefined,
      endpoints: body.endpoints as string[] | undefined,
    });
    void reply.code(201);
    return { ...keyView(created.record), key: created.key };
  });

  adminRoute(app, 'GET', '/keys/:id/', (request) => keyView(keyOf(core, request.params)));

  adminRoute(app, 'DELETE', '/keys/:id/', (request, reply) => {
    core.revokeKey(keyOf(core, request.params).id);
    void reply.code(204).send();
  });
}

function keyOf(core: Pick<AdminServices, 'keys'>, params: unknown) {
  const { id } = params as { id: string };
  const key = core.keys.get(id);
  if (key === undefined) {
    throw new SwitchboardError('SB_ERR_NO_SUCH_KEY', `No key with id ${JSON.stringify(id)}`);
  }
  return key;
}
