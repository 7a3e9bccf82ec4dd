import { ADMIN_DETAILS, ADMIN_FLAGS, adminClientOf } from './admin-flags.ts';
import type { Command } from './command.ts';
import type { ClusterAnswer } from '../http/admin/cluster-routes.ts';
import type { UplinkView } from '../http/admin/uplink-routes.ts';
import { table } from './table.ts';

interface FunctionJson {
  name: string;
  providers: string[];
}

interface EndpointJson {
  path: string;
  methods: string[];
  providers: string[];
}

/** `switchboard status`: what is connected, through the admin API. */
export const statusCommand: Command = {
  name: 'status',
  summary: 'Show the connected uplinks with their functions, endpoints and calls in flight.',
  details: ADMIN_DETAILS,
  args: '',
  arity: [0, 0],
  flags: {
    ...ADMIN_FLAGS,
    json: { type: 'boolean', description: 'print the admin API objects as JSON instead' },
  },
  async run({ values }) {
    const { url, client } = adminClientOf(values, 'status');
    const [uplinks, functions, endpoints, cluster] = await Promise.all([
      client.list<UplinkView>('uplinks/'),
      client.list<FunctionJson>('functions/'),
      client.list<EndpointJson>('endpoints/'),
      client.get<ClusterAnswer>('cluster/'),
    ]);
    if (values.json === true) {
      process.stdout.write(
        `${JSON.stringify({ uplinks, functions, endpoints, cluster }, null, 2)}\n`,
      );
      return 0;
    }
    process.stdout.write(statusText(url, uplinks, functions, endpoints) + clusterText(cluster));
    return 0;
  },
};

function statusText(
  url: string,
  uplinks: UplinkView[],
  functions: FunctionJson[],
  endpoints: EndpointJson[],
): string {
  const inFlight = uplinks.reduce((sum, uplink) => sum + uplink.in_flight, 0);
  const lines = [
    `Switchboard at ${url}: ${plural(uplinks.length, 'uplink')} connected, ${plural(inFlight, 'call')} in flight to them`,
    '',
  ];
  if (uplinks.length === 0) {
    lines.push('No uplinks connected.');
  } else {
    lines.push(
      table([
        [
          'ID',
          'NAME',
          'KEY',
          'ADDRESS',
          'CONNECTED SINCE',
          'IN FLIGHT',
          'SERVED',
          'ERRORS',
          'STATE',
        ],
        ...uplinks.map((uplink) => [
          uplink.id,
          uplink.name ?? '-',
          uplink.key_name,
          uplink.remote_address,
          uplink.connected_since,
          String(uplink.in_flight),
          String(uplink.calls_served),
          String(uplink.errors),
          uplink.draining ? 'draining' : 'serving',
        ]),
      ]).trimEnd(),
    );
    for (const uplink of uplinks) {
      lines.push('', `${uplink.id}${uplink.name === null ? '' : ` (${uplink.name})`}`);
      lines.push(`  functions: ${uplink.functions.join(', ') || '-'}`);
      const paths = uplink.endpoints.map((e) => `${e.methods.join(',')} ${e.path}`);
      lines.push(`  endpoints: ${paths.join(', ') || '-'}`);
    }
  }
  const app = functions.filter((f) => f.providers.includes('app') && !f.name.startsWith('sb.'));
  const appEndpoints = endpoints.filter((e) => e.providers.includes('app'));
  if (app.length > 0 || appEndpoints.length > 0) {
    lines.push('', 'Served by the server process:');
    if (app.length > 0) lines.push(`  functions: ${app.map((f) => f.name).join(', ')}`);
    if (appEndpoints.length > 0) {
      lines.push(
        `  endpoints: ${appEndpoints.map((e) => `${e.methods.join(',')} ${e.path}`).join(', ')}`,
      );
    }
  }
  return `${lines.join('\n')}\n`;
}

function clusterText(cluster: ClusterAnswer): string {
  if (!cluster.clustered) return '';
  const lines = [
    '',
    `Cluster: this server is ${cluster.node}, NATS ${cluster.connected ? 'connected' : 'NOT connected (serving its own uplinks only)'}; ${plural(cluster.peers.length, 'other server')}`,
  ];
  for (const peer of cluster.peers) {
    lines.push(`  ${peer.node}: ${plural(peer.in_flight, 'call')} in flight to it`);
    lines.push(`    functions: ${peer.functions.join(', ') || '-'}`);
    const paths = peer.endpoints.map((e) => `${e.methods.join(',')} ${e.path}`);
    lines.push(`    endpoints: ${paths.join(', ') || '-'}`);
  }
  return `${lines.join('\n')}\n`;
}

function plural(count: number, noun: string): string {
  return `${count} ${noun}${count === 1 ? '' : 's'}`;
}
