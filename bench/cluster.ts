// npm run bench:cluster [-- --rounds N --duration S --rate R]
// Scaling of a cluster (issue 18): two servers each with its own uplink, loaded by one load
// process each, against one server with one uplink loaded by two load processes. Measured twice
// per round, order alternating: as fast as the machine goes (total req/s) and at a fixed total
// rate (CPU per request of every process of the setup). Medians over rounds. Needs nats-server.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { measure, machineBusySeconds, type Usage } from './lib/proc-stats.ts';
import { freePort, findNats } from './lib/nats.ts';
import {
  KEY,
  runMain,
  startProcess,
  startScript,
  stop,
  stopAll,
  type Proc,
} from './lib/processes.ts';

const { values } = parseArgs({
  options: {
    rounds: { type: 'string', default: '3' },
    duration: { type: 'string', default: '5' },
    /** The fixed total rate of the CPU-per-request measurement. */
    rate: { type: 'string', default: '3000' },
  },
});
const rounds = Number(values.rounds);
const durationS = Number(values.duration);
const rate = Number(values.rate);

interface Setup {
  name: string;
  /** The URL each load process sends GET /hello/world to. */
  targets: string[];
  procs: Proc[];
}

interface Measurement {
  setup: string;
  rated: boolean;
  rps: number;
  errors: number;
  usage: Record<string, Usage>;
  /** CPU µs per request of the setup's processes (not the load's). */
  cpuUsPerRequest: number;
  /** Share of the machine busy outside the watched processes and loads (other tenants). */
  othersPercent: number;
}

const url = (line: string) => line.replace(/^ready /, '').trim();

async function startSetups(natsUrl: string): Promise<Setup[]> {
  const server = startScript('server', 'bench/servers/switchboard.ts', { BENCH_KEY: KEY });
  const serverUrl = url(await server.line(/^ready /));
  const worker = startScript('uplink', 'bench/servers/uplink-worker.ts', {
    BENCH_URL: serverUrl,
    BENCH_KEY: KEY,
  });
  await worker.line(/^ready/);
  const one: Setup = {
    name: 'one server',
    targets: [serverUrl, serverUrl].map((base) => `${base}/_/api/hello/world`),
    procs: [server, worker],
  };

  const doors = ['a', 'b'].map((node) =>
    startScript(`door-${node}`, 'bench/servers/switchboard.ts', {
      BENCH_KEY: KEY,
      SWITCHBOARD_CLUSTER: natsUrl,
      SWITCHBOARD_NODE_NAME: node,
    }),
  );
  const doorUrls = await Promise.all(doors.map(async (door) => url(await door.line(/^ready /))));
  const workers = doorUrls.map((base, i) =>
    startScript(`uplink-${'ab'[i]}`, 'bench/servers/uplink-worker.ts', {
      BENCH_URL: base,
      BENCH_KEY: KEY,
    }),
  );
  for (const w of workers) await w.line(/^ready/);
  return [
    one,
    {
      name: 'two servers',
      targets: doorUrls.map((base) => `${base}/_/api/hello/world`),
      procs: [...doors, ...workers],
    },
  ];
}

/** One load process per target at once (each half the total rate when rated). */
async function run(setup: Setup, rated: boolean, nats: Proc): Promise<Measurement> {
  const loads = setup.targets.map((target, i) =>
    startScript(`load${i}`, 'bench/load/http-load.ts', {
      BENCH_TARGET: target,
      BENCH_CONNECTIONS: '50',
      BENCH_DURATION_S: String(durationS),
      BENCH_HOLD: '1',
      ...(rated ? { BENCH_RATE: String(rate / setup.targets.length) } : {}),
    }),
  );
  const watched = [...setup.procs, ...(setup.name === 'two servers' ? [nats] : []), ...loads];
  const busyBefore = machineBusySeconds();
  const started = Date.now();
  const { result, usage } = await measure(
    Object.fromEntries(watched.map((p) => [p.name, p.pid])),
    () => Promise.all(loads.map((load) => load.line(/^result /, (durationS + 60) * 1000))),
  );
  const busy = machineBusySeconds() - busyBefore;
  const seconds = (Date.now() - started) / 1000;
  await Promise.all(loads.map((load) => stop(load)));
  const samples = result.map(
    (line) => JSON.parse(line.replace(/^result /, '')) as { rps: number; errors: number },
  );
  const rps = samples.reduce((sum, s) => sum + s.rps, 0);
  const errors = samples.reduce((sum, s) => sum + s.errors, 0);
  let setupCpu = 0;
  let allCpu = 0;
  for (const [name, u] of Object.entries(usage)) {
    allCpu += u.cpuSeconds;
    if (!name.startsWith('load')) setupCpu += u.cpuSeconds;
  }
  return {
    setup: setup.name,
    rated,
    rps,
    errors,
    usage,
    cpuUsPerRequest: (setupCpu / (rps * durationS)) * 1e6,
    othersPercent: Math.max(0, Math.round(((busy - allCpu) / seconds) * 100)),
  };
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

async function main(): Promise<void> {
  const binary = findNats();
  if (binary === undefined) throw new Error('nats-server not found (npm run setup:test)');
  const port = await freePort();
  const natsUrl = `nats://127.0.0.1:${port}`;
  const store = mkdtempSync(path.join(tmpdir(), 'sb-bench-js-'));
  const nats = startProcess('nats-server', binary, [
    ...['-a', '127.0.0.1', '-p', String(port), '-js', '-sd', store],
  ]);
  const setups = await startSetups(natsUrl);
  const all: Measurement[] = [];
  for (let round = 1; round <= rounds; round++) {
    const order = round % 2 === 1 ? setups : [...setups].reverse();
    for (const rated of [false, true]) {
      for (const setup of order) {
        const m = await run(setup, rated, nats);
        all.push(m);
        process.stderr.write(
          `round ${round} ${setup.name} ${rated ? `@${rate}` : 'max'}: ${Math.round(m.rps)} req/s, ${m.cpuUsPerRequest.toFixed(1)} µs/req, others ${m.othersPercent}%\n`,
        );
      }
    }
  }
  await stopAll();
  rmSync(store, { recursive: true, force: true });
  console.log(report(all));
}

function report(all: Measurement[]): string {
  const rows: string[] = [
    '| setup | load | req/s (median) | CPU per request, setup processes | CPU% per process (last round) | errors | others% |',
    '| --- | --- | --- | --- | --- | --- | --- |',
  ];
  const med = (setup: string, rated: boolean, pick: (m: Measurement) => number) =>
    median(all.filter((m) => m.setup === setup && m.rated === rated).map(pick));
  for (const rated of [false, true]) {
    for (const setup of ['one server', 'two servers']) {
      const last = all.filter((m) => m.setup === setup && m.rated === rated).at(-1)!;
      const cpu = Object.entries(last.usage)
        .map(([name, u]) => `${name} ${u.cpuPercent}`)
        .join(', ');
      rows.push(
        `| ${setup} | ${rated ? `fixed ${rate} req/s` : 'as fast as it goes'} | ${Math.round(med(setup, rated, (m) => m.rps)).toLocaleString('en')} | ${med(setup, rated, (m) => m.cpuUsPerRequest).toFixed(1)} µs | ${cpu} | ${med(setup, rated, (m) => m.errors)} | ${med(setup, rated, (m) => m.othersPercent)} |`,
      );
    }
  }
  const throughput =
    med('two servers', false, (m) => m.rps) / med('one server', false, (m) => m.rps);
  const cost =
    med('two servers', true, (m) => m.cpuUsPerRequest) /
    med('one server', true, (m) => m.cpuUsPerRequest);
  return [
    `# Cluster scaling — ${new Date().toISOString()}, ${rounds} rounds of ${durationS} s`,
    '',
    ...rows,
    '',
    `Two servers / one server, as fast as this machine goes: ${throughput.toFixed(2)}×.`,
    `CPU per request, two servers / one server at ${rate} req/s: ${cost.toFixed(2)}× ` +
      `(1.00× = the cluster adds no work per request; then n servers on n times the cores serve n× ` +
      `as much, up to NATS's share).`,
  ].join('\n');
}

runMain(main);
