import type { FastifyInstance } from 'fastify';
import { adminRoute } from './admin-route.ts';
import type { AdminServices } from './admin-services.ts';
import { paginate } from './pagination.ts';
import { checkBody } from './request-body.ts';
import { userIdOf } from './user-routes.ts';
import { userTokenView } from './views.ts';

/**
 * `users/:id/tokens/`: a user's API tokens. List (never the secrets), create (the token in the
 * answer, once; `name` optional), get, revoke (204, again too). An unknown user is 404
 * SB_ERR_NO_SUCH_USER, an unknown token 404 SB_ERR_NO_SUCH_USER_TOKEN.
 */
export function userTokenRoutes(
  app: FastifyInstance,
  core: Pick<AdminServices, 'userTokens'>,
): void {
  adminRoute(app, 'GET', '/users/:id/tokens/', (request) =>
    paginate(core.userTokens.list(userIdOf(request.params)), request.query, userTokenView),
  );

  adminRoute(app, 'POST', '/users/:id/tokens/', (request, reply) => {
    const userId = userIdOf(request.params);
    // No body at all is a token with the default name.
    const body = checkBody(request.body ?? {}, { name: { type: 'string', required: false } });
    const { token, ...record } = core.userTokens.create(userId, body.name as string | undefined);
    void reply.code(201);
    return { ...userTokenView(record), token };
  });

  adminRoute(app, 'GET', '/users/:id/tokens/:tokenId/', (request) => {
    const { tokenId } = request.params as { tokenId: string };
    return userTokenView(core.userTokens.get(userIdOf(request.params), tokenId));
  });

  adminRoute(app, 'DELETE', '/users/:id/tokens/:tokenId/', (request, reply) => {
    const { tokenId } = request.params as { tokenId: string };
    core.userTokens.revoke(userIdOf(request.params), tokenId);
    void reply.code(204).send();
  });
}
