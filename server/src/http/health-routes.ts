import type { FastifyInstance } from 'fastify';
import type Database from 'better-sqlite3';
import { SwitchboardError } from '@switchboard/shared';
import { sendError } from './error-reply.ts';

/** A clustered server's view of its cluster, for /readyz. */
export interface ClusterHealth {
  node: string;
  connected: boolean;
  peers: string[];
  /** Just joined: not everything the others serve is known here yet (503 until then). */
  joining?: true;
}

/**
 * `GET /healthz`: the process is up and answering. `GET /readyz`: the store answers a query and
 * the server is not shutting down (503 SB_ERR_SERVER_CLOSING otherwise), for load balancers. A
 * clustered server cut off from NATS still serves its own uplinks: 200 with `status: degraded`;
 * one that just joined answers 503 with `status: joining` until it knows what the others serve.
 */
export function healthRoutes(deps: {
  db: Database.Database;
  isClosing: () => boolean;
  cluster: () => ClusterHealth | undefined;
}) {
  return function routes(app: FastifyInstance, _opts: unknown, done: (err?: Error) => void): void {
    app.get('/healthz', (_request, reply) => {
      void reply.header('cache-control', 'no-store').send({ status: 'ok' });
    });
    app.get('/readyz', (_request, reply) => {
      void reply.header('cache-control', 'no-store');
      if (deps.isClosing()) {
        sendError(reply, new SwitchboardError('SB_ERR_SERVER_CLOSING'), false);
        return;
      }
      try {
        deps.db.prepare('SELECT 1').get();
      } catch (error) {
        sendError(
          reply,
          new SwitchboardError('SB_ERR_INTERNAL', `The store does not answer: ${String(error)}`),
          false,
        );
        return;
      }
      const cluster = deps.cluster();
      if (cluster === undefined) void reply.send({ status: 'ready' });
      else if (cluster.joining === true) void reply.code(503).send({ status: 'joining', cluster });
      else void reply.send({ status: cluster.connected ? 'ready' : 'degraded', cluster });
    });
    done();
  };
}
