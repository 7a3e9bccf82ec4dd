import type { FastifyInstance } from 'fastify';
import type { ClusterView } from '../../cluster/cluster.ts';
import { adminRoute } from './admin-route.ts';
import type { AdminServices } from './admin-services.ts';

/** Another server of the cluster as `GET cluster/` shows it. */
export type ClusterPeerView = ClusterView['peers'][number] & {
  /** Our calls and requests to it that finished (answered or failed), as for an uplink. */
  calls_served: number;
  /** How many of those failed. */
  errors: number;
};

/** `GET cluster/`: a server on its own says so; a server of a cluster shows it. */
export type ClusterAnswer =
  | { clustered: false }
  | ({ clustered: true } & Omit<ClusterView, 'peers'> & { peers: ClusterPeerView[] });

/**
 * `cluster/`: this server's node name, whether NATS is connected, and every other server with
 * what it serves here and our calls to it. In `functions/` and `endpoints/` another server is
 * the provider `node:<name>`, which is also the name its call statistics are kept under.
 */
export function clusterRoutes(
  app: FastifyInstance,
  core: Pick<AdminServices, 'cluster' | 'stats'>,
): void {
  adminRoute(app, 'GET', '/cluster/', (): ClusterAnswer => {
    if (core.cluster === undefined) return { clustered: false };
    const view = core.cluster.view();
    return {
      clustered: true,
      ...view,
      peers: view.peers.map((peer) => {
        const stats = core.stats.forProvider(`node:${peer.node}`);
        return { ...peer, calls_served: stats.count, errors: stats.errors };
      }),
    };
  });
}
