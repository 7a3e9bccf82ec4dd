// npm run bench [-- --quick] [-- --rounds N --duration S --skip-idle]
// Starts every process itself, loads them from separate processes on 127.0.0.1, alternates the
// scenarios within each round (A B A B) and reports medians over the rounds, with ratios to the
// ceiling measured in the same run. Stops everything it started, by PID.
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { runLoad as runLoadFor } from './lib/load.ts';
import { measureFloor } from './lib/floor.ts';
import { measureIdle } from './lib/idle.ts';
import { findNats, freePort } from './lib/nats.ts';
import { renderTargets } from './lib/targets.ts';
import {
  KEY,
  runMain,
  saveResults,
  SOURCE_OPTIONS,
  startProcess,
  startScript,
  stopAll,
  type Proc,
  type ScriptOptions,
} from './lib/processes.ts';
import { renderReport, type HttpRow, type IdleRow, type RpcRow, type Sample } from './report.ts';

const { values } = parseArgs({
  options: {
    quick: { type: 'boolean', default: false },
    rounds: { type: 'string' },
    duration: { type: 'string' },
    'skip-idle': { type: 'boolean', default: false },
    idle: { type: 'string' },
    /** Comma-separated subsets, for iterating on one comparison: --routes get,echo-1k */
    routes: { type: 'string' },
    scenarios: { type: 'string' },
    'skip-rpc': { type: 'boolean', default: false },
    /** The fixed rate (req/s) of the CPU-per-request measurements (GET and 1 KiB). */
    rate: { type: 'string', default: '4000' },
    /**
     * A/B against other code: comma-separated copies of Switchboard (each with its own
     * node_modules) whose servers and uplinks run as the extra scenarios `<folder>-uplink` and
     * `<folder>-inprocess` (name them in --scenarios).
     */
    compare: { type: 'string' },
    /**
     * A/B of the build against the same code run from its TypeScript sources through tsx (as the
     * packages ran before they had a build): extra scenarios `source-uplink` and `source-inprocess`.
     */
    source: { type: 'boolean', default: false },
  },
});
const onlyRoutes = values.routes?.split(',');
const onlyScenarios = values.scenarios?.split(',');
const quick = values.quick;
const rounds = Number(values.rounds ?? (quick ? 1 : 3));
const durationS = Number(values.duration ?? (quick ? 1.5 : 5));
const idleCount = Number(values.idle ?? 10_000);

const natsBinary = findNats();

interface Scenario {
  name: string;
  /** Base URL serving /hello/:name and /echo. */
  base: string;
  procs: Proc[];
}

function urlOf(line: string): string {
  return line.replace(/^ready /, '').trim();
}

async function startScenarios(): Promise<{
  scenarios: Scenario[];
  switchboardUrl: string;
  natsUrl?: string;
}> {
  const scenarios: Scenario[] = [];
  const ceiling = startScript('ceiling', 'bench/servers/ceiling.ts');
  scenarios.push({ name: 'ceiling', base: urlOf(await ceiling.line(/^ready /)), procs: [ceiling] });

  const inproc = startScript('sb-server', 'bench/servers/switchboard.ts', {
    BENCH_KEY: KEY,
    BENCH_INPROCESS: '1',
  });
  scenarios.push({
    name: 'switchboard-inprocess',
    base: `${urlOf(await inproc.line(/^ready /))}/_/api`,
    procs: [inproc],
  });

  const server = startScript('sb-server', 'bench/servers/switchboard.ts', { BENCH_KEY: KEY });
  const serverUrl = urlOf(await server.line(/^ready /));
  const worker = startScript('uplink', 'bench/servers/uplink-worker.ts', {
    BENCH_URL: serverUrl,
    BENCH_KEY: KEY,
  });
  await worker.line(/^ready/);
  scenarios.push({
    name: 'switchboard-uplink',
    base: `${serverUrl}/_/api`,
    procs: [server, worker],
  });

  const server2 = startScript('sb-server', 'bench/servers/switchboard.ts', { BENCH_KEY: KEY });
  const server2Url = urlOf(await server2.line(/^ready /));
  const workers = [1, 2].map((n) =>
    startScript(`uplink${n}`, 'bench/servers/uplink-worker.ts', {
      BENCH_URL: server2Url,
      BENCH_KEY: KEY,
    }),
  );
  for (const w of workers) await w.line(/^ready/);
  scenarios.push({
    name: 'switchboard-uplink-x2',
    base: `${server2Url}/_/api`,
    procs: [server2, ...workers],
  });

  // Other code to compare with: older copies of the project, or this one from its sources.
  const variants: { label: string; options: ScriptOptions }[] = (
    values.compare?.split(',') ?? []
  ).map((root) => ({
    label: path.basename(path.resolve(root)),
    options: { root: path.resolve(root) },
  }));
  if (values.source) variants.push({ label: 'source', options: SOURCE_OPTIONS });
  for (const { label, options } of variants) {
    const other = startScript(
      'sb-server',
      'bench/servers/switchboard.ts',
      { BENCH_KEY: KEY },
      options,
    );
    const otherUrl = urlOf(await other.line(/^ready /));
    const otherWorker = startScript(
      'uplink',
      'bench/servers/uplink-worker.ts',
      { BENCH_URL: otherUrl, BENCH_KEY: KEY },
      options,
    );
    await otherWorker.line(/^ready/);
    scenarios.push({
      name: `${label}-uplink`,
      base: `${otherUrl}/_/api`,
      procs: [other, otherWorker],
    });
    const otherInproc = startScript(
      'sb-server',
      'bench/servers/switchboard.ts',
      { BENCH_KEY: KEY, BENCH_INPROCESS: '1' },
      options,
    );
    scenarios.push({
      name: `${label}-inprocess`,
      base: `${urlOf(await otherInproc.line(/^ready /))}/_/api`,
      procs: [otherInproc],
    });
  }

  let natsUrl: string | undefined;
  if (natsBinary !== undefined) {
    const port = await freePort();
    natsUrl = `nats://127.0.0.1:${port}`;
    const nats = startProcess('nats-server', natsBinary, ['-a', '127.0.0.1', '-p', String(port)]);
    const natsWorker = startScript('nats-worker', 'bench/servers/nats-worker.ts', {
      BENCH_NATS: natsUrl,
    });
    const gateway = startScript('gateway', 'bench/servers/nats-gateway.ts', {
      BENCH_NATS: natsUrl,
    });
    await natsWorker.line(/^ready/);
    scenarios.push({
      name: 'nats-peer',
      base: urlOf(await gateway.line(/^ready /)),
      procs: [gateway, natsWorker, nats],
    });
    // Two servers of a cluster on that NATS (issue 18), the uplink on b: HTTP into b is served
    // locally, HTTP into a crosses to b and back.
    const clustered = (node: string) =>
      startScript(`door-${node}`, 'bench/servers/switchboard.ts', {
        BENCH_KEY: KEY,
        SWITCHBOARD_CLUSTER: natsUrl!,
        SWITCHBOARD_NODE_NAME: node,
      });
    const [doorA, doorB] = [clustered('a'), clustered('b')];
    const [urlA, urlB] = [urlOf(await doorA.line(/^ready /)), urlOf(await doorB.line(/^ready /))];
    const clusterWorker = startScript('uplink-b', 'bench/servers/uplink-worker.ts', {
      BENCH_URL: urlB,
      BENCH_KEY: KEY,
    });
    await clusterWorker.line(/^ready/);
    await servedThrough(`${urlA}/_/api/hello/world`);
    scenarios.push({
      name: 'cluster-local',
      base: `${urlB}/_/api`,
      procs: [doorB, clusterWorker],
    });
    scenarios.push({
      name: 'cluster-remote',
      base: `${urlA}/_/api`,
      procs: [doorA, doorB, clusterWorker, nats],
    });
  }
  return { scenarios, switchboardUrl: serverUrl, ...(natsUrl === undefined ? {} : { natsUrl }) };
}

/** Waits (at most 10 s) until `url` answers 200: the catalog has reached the other server. */
async function servedThrough(url: string): Promise<void> {
  for (let attempt = 0; attempt < 200; attempt++) {
    const status = await fetch(url).then(
      (response) => response.status,
      () => 0,
    );
    if (status === 200) return;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  throw new Error(`${url} never answered 200 through the cluster`);
}

function runLoad(script: string, env: Record<string, string>, watch: Proc[]): Promise<Sample> {
  const pids = Object.fromEntries(watch.map((p): [string, number] => [p.name, p.pid]));
  return runLoadFor(script, env, pids, durationS);
}

const fixedRate = Number(values.rate);
/** `rated`: also measured at the fixed rate, for CPU per request. */
const ROUTES = [
  {
    id: 'get',
    route: 'GET /hello/:name',
    method: 'GET',
    path: '/hello/world',
    bodyBytes: 0,
    rated: true,
  },
  {
    id: 'echo-1k',
    route: 'POST /echo 1 KiB',
    method: 'POST',
    path: '/echo',
    bodyBytes: 1024,
    rated: true,
  },
  {
    id: 'echo-1m',
    route: 'POST /echo 1 MiB',
    method: 'POST',
    path: '/echo',
    bodyBytes: 1024 * 1024,
    rated: false,
  },
].filter((r) => onlyRoutes === undefined || onlyRoutes.includes(r.id));

async function main(): Promise<void> {
  const startedAt = Date.now();
  if (natsBinary === undefined) {
    console.error(
      'nats-server not found: NATS rows are skipped (install it with: apt-get install nats-server)',
    );
  }
  const started = await startScenarios();
  const { switchboardUrl, natsUrl } = started;
  // 'ceiling' always runs: every ratio is against it.
  const scenarios = started.scenarios.filter(
    (s) => onlyScenarios === undefined || s.name === 'ceiling' || onlyScenarios.includes(s.name),
  );
  const http: HttpRow[] = [];
  const rpc: RpcRow[] = [];
  const floorP50Us: number[] = [];
  for (let round = 1; round <= rounds; round++) {
    floorP50Us.push((await measureFloor(3, 300)).ws.p50);
    for (const route of ROUTES) {
      const modes = [
        { connections: 50 },
        { connections: 1 },
        ...(route.rated ? [{ connections: 50, rate: fixedRate }] : []),
      ];
      for (const { connections, rate } of modes) {
        for (const scenario of scenarios) {
          const sample = await runLoad(
            'bench/load/http-load.ts',
            {
              BENCH_TARGET: `${scenario.base}${route.path}`,
              BENCH_METHOD: route.method,
              BENCH_BODY_BYTES: String(route.bodyBytes),
              BENCH_CONNECTIONS: String(connections),
              ...(rate === undefined ? {} : { BENCH_RATE: String(rate) }),
            },
            scenario.procs,
          );
          http.push({
            scenario: scenario.name,
            route: route.route,
            connections,
            ...(rate === undefined ? {} : { rate }),
            round,
            sample,
          });
          process.stderr.write(
            `round ${round} ${route.route} c=${connections}${rate === undefined ? '' : ` @${rate}`} ${scenario.name}: ${Math.round(sample.rps)} req/s\n`,
          );
        }
      }
    }
    const uplinkScenario = started.scenarios.find((s) => s.name === 'switchboard-uplink')!;
    const natsScenario = started.scenarios.find((s) => s.name === 'nats-peer');
    for (const inFlight of values['skip-rpc'] ? [] : [1, 64]) {
      const sb = await runLoad(
        'bench/load/rpc-load.ts',
        {
          BENCH_KIND: 'switchboard',
          BENCH_URL: switchboardUrl,
          BENCH_KEY: KEY,
          BENCH_INFLIGHT: String(inFlight),
        },
        uplinkScenario.procs,
      );
      rpc.push({ scenario: 'switchboard uplink→uplink', inFlight, round, sample: sb });
      if (natsUrl !== undefined && natsScenario !== undefined) {
        // NATS at its best (noAsyncTraces), both ways of asking: the report takes the faster.
        for (const [kind, scenario] of [
          ['nats', 'nats request()'],
          ['nats-inbox', 'nats publish + own inbox'],
        ] as const) {
          const nats = await runLoad(
            'bench/load/rpc-load.ts',
            { BENCH_KIND: kind, BENCH_NATS: natsUrl, BENCH_INFLIGHT: String(inFlight) },
            natsScenario.procs.filter((p) => p.name !== 'gateway'),
          );
          rpc.push({ scenario, inFlight, round, sample: nats });
        }
      }
      process.stderr.write(`round ${round} rpc in-flight=${inFlight} done\n`);
    }
  }
  await stopAll();

  const idle: IdleRow[] = [];
  if (!values['skip-idle'])
    idle.push(await measureIdle({ count: idleCount, key: KEY, settleS: 10 }));

  const report = renderReport({ http, rpc, idle, floorP50Us, rounds, durationS });
  const machine = `${os.cpus().length} × ${os.cpus()[0]?.model ?? 'cpu'}, ${Math.round(os.totalmem() / 2 ** 30)} GiB, Node ${process.version}, ${os.platform()} ${os.release()}`;
  const header = `# Switchboard bench — ${new Date().toISOString()}\n\nMachine: ${machine}. ${rounds} round(s) of ${durationS} s per measurement, scenarios alternated within each round; figures are medians over rounds. Took ${Math.round((Date.now() - startedAt) / 1000)} s.\n\n`;
  console.log(header + report.markdown);
  console.log(
    `\n## Targets (this run)\n\n${renderTargets([{ file: 'this run', summary: report.summary }])}`,
  );
  saveResults('bench', {
    machine,
    rounds,
    durationS,
    quick,
    http,
    rpc,
    idle,
    summary: report.summary,
  });
}

runMain(main);
