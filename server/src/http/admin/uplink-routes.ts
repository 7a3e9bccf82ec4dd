import { SwitchboardError } from '@switchboard/shared';
import type { FastifyInstance } from 'fastify';
import { adminRoute } from './admin-route.ts';
import type { AdminServices, AdminUplink } from './admin-services.ts';
import { paginate } from './pagination.ts';

/** An uplink as the admin API shows it. */
export interface UplinkView {
  id: string;
  name: string | null;
  /** `switchboard`, or `anvil` for an uplink speaking Anvil's uplink protocol. */
  dialect: 'switchboard' | 'anvil';
  key_name: string;
  remote_address: string;
  connected_since: string;
  functions: string[];
  endpoints: Array<{ path: string; methods: string[] }>;
  in_flight: number;
  calls_served: number;
  errors: number;
  draining: boolean;
}

/** `uplinks/`: the live connections; get one, disconnect it (DELETE) or drain it (POST drain/). */
export function uplinkRoutes(
  app: FastifyInstance,
  core: Pick<AdminServices, 'hub' | 'stats'>,
): void {
  const view = (uplink: AdminUplink): UplinkView => {
    const stats = core.stats.forProvider(uplink.providerId);
    return {
      id: uplink.providerId,
      name: uplink.name,
      dialect: uplink.dialect,
      key_name: uplink.keyName,
      remote_address: uplink.remoteAddress,
      connected_since: new Date(uplink.connectedAt).toISOString(),
      functions: uplink.functions(),
      endpoints: uplink.endpoints(),
      in_flight: uplink.inFlight,
      calls_served: stats.count,
      errors: stats.errors,
      draining: uplink.draining,
    };
  };
  const find = (params: unknown): AdminUplink => {
    const { id } = params as { id: string };
    const uplink = core.hub.find(id);
    if (uplink === undefined) throw noSuchUplink(id);
    return uplink;
  };

  adminRoute(app, 'GET', '/uplinks/', (request) => {
    const uplinks = core.hub.uplinks().sort((a, b) => a.connectedAt - b.connectedAt);
    return paginate(uplinks, request.query, view);
  });

  adminRoute(app, 'GET', '/uplinks/:id/', (request) => view(find(request.params)));

  adminRoute(app, 'DELETE', '/uplinks/:id/', (request, reply) => {
    const { id } = request.params as { id: string };
    if (!core.hub.disconnect(id)) throw noSuchUplink(id);
    void reply.code(204).send();
  });

  adminRoute(app, 'POST', '/uplinks/:id/drain/', (request, reply) => {
    const uplink = find(request.params);
    if (!core.hub.drain(uplink.providerId)) throw noSuchUplink(uplink.providerId);
    void reply.code(202);
    return view(uplink);
  });
}

function noSuchUplink(id: string): SwitchboardError {
  return new SwitchboardError(
    'SB_ERR_NO_SUCH_UPLINK',
    `No connected uplink with id ${JSON.stringify(id)}`,
  );
}
