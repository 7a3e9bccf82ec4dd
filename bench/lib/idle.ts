// Idle uplink connections: one Switchboard server, `count` real uplink clients spread over
// several processes, the server's RSS before and after. Used by `npm run bench` (10,000) and
// `npm run bench:idle` (up to 50,000 and more).
import { setTimeout as sleep } from 'node:timers/promises';
import { sampleProcess } from './proc-stats.ts';
import { startScript, stop, type Proc } from './processes.ts';

export interface IdleOptions {
  count: number;
  key: string;
  /** Client processes opening them (each holds count / clients). */
  clients?: number;
  /**
   * Loopback addresses the clients connect to, in turn. One client address reaches at most
   * ~28,000 ephemeral ports towards one server address and port, so more than that needs both
   * 127.0.0.1 and ::1 (the server then listens on both).
   */
  hosts?: string[];
  /** Descriptor limit for the server and the clients, when above this shell's (needs root). */
  nofile?: number;
  /** Seconds the server's RSS is followed after the last connection opened. */
  settleS?: number;
}

export interface IdleResult {
  connections: number;
  rssBeforeMiB: number;
  /** One second after the last connection opened. */
  rssAfterMiB: number;
  kibPerConnection: number;
  /** The server left alone for `settleS` (V8 collects the handshakes' garbage by itself). */
  settledAfterS: number;
  rssSettledMiB: number;
  kibPerConnectionSettled: number;
  /** Seconds from the first connection to the last one open. */
  openS: number;
}

function rssKiB(proc: Proc): number {
  const sample = sampleProcess(proc.pid);
  if (sample === undefined) throw new Error(`${proc.name} is gone: ${proc.stderr()}`);
  return sample.rssKiB;
}

function urlFor(host: string, port: string): string {
  return `ws://${host.includes(':') ? `[${host}]` : host}:${port}`;
}

export async function measureIdle(options: IdleOptions): Promise<IdleResult> {
  const { count, key, clients = 4, hosts = ['127.0.0.1'], nofile, settleS = 0 } = options;
  const limits = nofile === undefined ? {} : { nofile };
  const server = startScript(
    'sb-server',
    'bench/servers/switchboard.ts',
    { BENCH_KEY: key, ...(hosts.length > 1 ? { BENCH_HOST: '::' } : {}) },
    { nodeArgs: ['--max-old-space-size=8192'], ...limits },
  );
  const ready = await server.line(/^ready /);
  const port = /:(\d+)\/?$/.exec(ready.trim())?.[1];
  if (port === undefined) throw new Error(`no port in ${ready}`);
  await sleep(500);
  const before = rssKiB(server);
  const share = (i: number): number => Math.floor(count / clients) + (i < count % clients ? 1 : 0);
  // The server lets 64 connections per address wait for their hello: stay under it.
  const batch = Math.max(1, Math.floor(48 / Math.ceil(clients / hosts.length)));
  const started = Date.now();
  const procs = Array.from({ length: clients }, (_, i) =>
    startScript(
      `idle${i}`,
      'bench/load/idle-uplinks.ts',
      {
        BENCH_URL: urlFor(hosts[i % hosts.length]!, port),
        BENCH_KEY: key,
        BENCH_COUNT: String(share(i)),
        BENCH_BATCH: String(batch),
      },
      limits,
    ),
  );
  try {
    await Promise.all(procs.map((p) => p.line(/^open /, 600_000)));
    const openS = (Date.now() - started) / 1000;
    await sleep(1000);
    const after = rssKiB(server);
    let settled = after;
    for (let waited = 0; waited < settleS; waited += 5) {
      await sleep(5000);
      settled = rssKiB(server);
      process.stderr.write(`idle: ${waited + 5} s after opening, server RSS ${settled} KiB\n`);
    }
    const connections = count;
    return {
      connections,
      rssBeforeMiB: before / 1024,
      rssAfterMiB: after / 1024,
      kibPerConnection: (after - before) / connections,
      settledAfterS: settleS,
      rssSettledMiB: settled / 1024,
      kibPerConnectionSettled: (settled - before) / connections,
      openS,
    };
  } finally {
    await Promise.all([...procs, server].map(stop));
  }
}
