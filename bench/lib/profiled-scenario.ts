// The scenarios the profilers (bench/profile.ts, bench/alloc.ts) start, each process with node
// flags of its own, and how they name where code lives.
import { findAnvilClient, startAnvilUplink } from './anvil-client.ts';
import { KEY, startScript, type Proc } from './processes.ts';

/** The routes a profiled scenario is loaded on. */
export const ROUTES: Record<string, { method: string; path: string; bodyBytes: number }> = {
  get: { method: 'GET', path: '/hello/world', bodyBytes: 0 },
  'echo-1k': { method: 'POST', path: '/echo', bodyBytes: 1024 },
  'echo-1m': { method: 'POST', path: '/echo', bodyBytes: 1024 * 1024 },
};

/**
 * Starts `scenario` (ceiling, switchboard-inprocess, switchboard-uplink, anvil-uplink: GET
 * only, the real Python Anvil client as the uplink, see bench/anvil.ts); `flags(name)` are the
 * node flags of its process `name`. Resolves with the base URL of the routes and the processes.
 */
export async function startScenario(
  scenario: string,
  flags: (name: string) => string[],
): Promise<{ base: string; procs: Proc[] }> {
  const ready = async (p: Proc) => (await p.line(/^ready /)).replace(/^ready /, '').trim();
  const switchboard = (env: Record<string, string> = {}): Proc =>
    startScript(
      'sb-server',
      'bench/servers/switchboard.ts',
      { BENCH_KEY: KEY, ...env },
      { nodeArgs: flags('sb-server') },
    );
  switch (scenario) {
    case 'ceiling': {
      const p = startScript(
        'ceiling',
        'bench/servers/ceiling.ts',
        {},
        { nodeArgs: flags('ceiling') },
      );
      return { base: await ready(p), procs: [p] };
    }
    case 'switchboard-inprocess': {
      const p = switchboard({ BENCH_INPROCESS: '1' });
      return { base: `${await ready(p)}/_/api`, procs: [p] };
    }
    case 'switchboard-uplink': {
      const server = switchboard();
      const url = await ready(server);
      const worker = startScript(
        'uplink',
        'bench/servers/uplink-worker.ts',
        { BENCH_URL: url, BENCH_KEY: KEY },
        { nodeArgs: flags('uplink') },
      );
      await worker.line(/^ready/);
      return { base: `${url}/_/api`, procs: [server, worker] };
    }
    case 'anvil-uplink': {
      // The real Python client as the uplink (bench/lib/anvil-client.ts): the door is profiled.
      const client = findAnvilClient();
      if (typeof client === 'string') throw new Error(`anvil-uplink: ${client}`);
      const server = switchboard();
      const url = await ready(server);
      const uplink = await startAnvilUplink(client, url, KEY);
      return { base: `${url}/_/api`, procs: [server, uplink] };
    }
    default:
      throw new Error(`unknown scenario ${scenario}`);
  }
}

/** Where code lives, for grouping samples: Node, a package, Switchboard, the bench. */
export function group(url: string, fn: string): string {
  if (url === '') return fn.startsWith('(') ? fn : '(native/builtin)';
  if (url.startsWith('node:')) return 'node internals';
  const m = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(url);
  if (m !== null) {
    const pkg = m[1]!;
    if (pkg === 'tsx' || pkg === 'esbuild') return 'tsx';
    return pkg.startsWith('@fastify/') ||
      pkg.startsWith('fastify') ||
      pkg === 'find-my-way' ||
      pkg === 'light-my-request' ||
      pkg === 'avvio'
      ? `fastify (${pkg})`
      : pkg;
  }
  // Our packages, from their sources or their build: by file.
  const own = /\/(shared|server|uplink-client)\/(?:src|dist)\/(.+?)\.[jt]s$/.exec(url);
  if (own !== null) return `switchboard ${own[1]}/${own[2]}`;
  if (url.includes('/bench/')) return 'bench handlers';
  return url;
}
