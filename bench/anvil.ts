// npm run bench:anvil [-- --quick] [--rounds N --duration S --rate R --connections 50,1 --skip-max --quiet-s S --retries N]
// Issue 17's row: GET /_/api/hello/:name through an Anvil-dialect uplink (the real Python
// `anvil-uplink` client) against the same GET through a native uplink, each behind its own
// Switchboard server, alternated within every round at one fixed request rate. Reports the CPU
// per request of the door (the server) and of the uplink separately, latency per response,
// errors, and the Python client's reconnects. Stops everything it started, by PID.
//
// The client is not part of this repository: ANVIL_UPLINK_PYTHONPATH names its `uplink/python`
// folder (default /tmp/anvil-client/uplink/python), ANVIL_UPLINK_PYTHON the interpreter (default
// /usr/bin/python3, which needs python3-ws4py). Without them the bench says so and skips.
import os from 'node:os';
import { parseArgs } from 'node:util';
import { findAnvilClient, startAnvilUplink } from './lib/anvil-client.ts';
import { runLoad } from './lib/load.ts';
import { machineBusySeconds, measure } from './lib/proc-stats.ts';
import { KEY, runMain, saveResults, startScript, stopAll, type Proc } from './lib/processes.ts';
import type { Sample } from './report.ts';

const { values } = parseArgs({
  options: {
    quick: { type: 'boolean', default: false },
    rounds: { type: 'string' },
    duration: { type: 'string' },
    /** The fixed request rate (req/s) of every measured row; the same for both scenarios. */
    rate: { type: 'string', default: '300' },
    connections: { type: 'string', default: '50,1' },
    /** Skip the unpaced measurement (50 connections, as fast as it goes) of each round. */
    'skip-max': { type: 'boolean', default: false },
    /**
     * Before each measurement, wait up to this many seconds for the rest of the machine to use
     * under a quarter of a core (the machine is shared; checked once a second). 0: never wait.
     */
    'quiet-s': { type: 'string', default: '15' },
    /** How many times a measurement is taken again when others used over half a core meanwhile. */
    retries: { type: 'string', default: '2' },
  },
});
const quick = values.quick;
const rounds = Number(values.rounds ?? (quick ? 1 : 5));
const durationS = Number(values.duration ?? (quick ? 3 : 10));
const rate = Number(values.rate);
const connectionCounts = values.connections.split(',').map(Number);
const maxDurationS = Math.min(durationS, 5);
const quietS = Number(values['quiet-s']);
const maxRetries = Number(values.retries);
/** Others' CPU (% of one core) above which a measurement counts as noisy. */
const NOISY_PERCENT = 50;

type Scenario = 'native-uplink' | 'anvil-uplink';
interface Row {
  scenario: Scenario;
  /** The fixed rate, or undefined for the unpaced measurement. */
  rate: number | undefined;
  connections: number;
  round: number;
  sample: Sample;
  /** CPU% (of one core) the rest of the machine used during the measurement: the noise. */
  othersPercent: number;
}

/** GETs `url` until it answers 200 (the endpoint registered), at most 100 tries. */
async function answered(url: string): Promise<string> {
  let last = '';
  for (let attempt = 0; attempt < 100; attempt++) {
    try {
      const response = await fetch(url);
      const body = await response.text();
      if (response.status === 200) return `${response.headers.get('content-type')} ${body}`;
      last = `${response.status} ${body}`;
    } catch (error) {
      last = String(error);
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error(`${url}: no 200 after 100 tries (last: ${last})`);
}

/**
 * Waits (at most `quietS` seconds) for a second in which the machine, our processes idle, is
 * busy under 25% of one core; returns the seconds waited.
 */
async function quiet(): Promise<number> {
  for (let waited = 0; waited < quietS; waited++) {
    const busy = machineBusySeconds();
    await new Promise((resolve) => setTimeout(resolve, 1000));
    if (machineBusySeconds() - busy < 0.25) return waited;
  }
  return quietS;
}

function median(list: number[]): number {
  const sorted = list.filter((v) => Number.isFinite(v)).sort((a, b) => a - b);
  if (sorted.length === 0) return NaN;
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

/** CPU µs per answered request of one process of a sample. */
function perRequest(sample: Sample, name: string): number {
  return ((sample.usage[name]?.cpuSeconds ?? NaN) * 1e6) / sample.samples;
}

const fmt = (n: number, digits = 0) => (Number.isFinite(n) ? n.toFixed(digits) : '—');
const spread = (list: number[], digits = 0) =>
  [...list]
    .sort((a, b) => a - b)
    .map((v) => fmt(v, digits))
    .join(' ');

/** The table of the fixed-rate rows (medians, rounds in brackets) and the paired ratios. */
function pacedTables(paced: Row[]): string[] {
  const lines = [
    "| connections | scenario | rounds | req/s | door µs/req | uplink µs/req | door + uplink µs/req | p50 ms | p99 ms | errors | others' CPU % |",
    '| ----------- | -------- | ------ | ----- | ----------- | ------------- | -------------------- | ------ | ------ | ------ | ------------- |',
  ];
  const pick = (scenario: Scenario, connections: number) =>
    paced.filter((r) => r.scenario === scenario && r.connections === connections);
  for (const connections of connectionCounts) {
    for (const scenario of ['native-uplink', 'anvil-uplink'] as const) {
      const picked = pick(scenario, connections);
      const samples = picked.map((r) => r.sample);
      const door = samples.map((s) => perRequest(s, 'door'));
      const uplink = samples.map((s) => perRequest(s, 'uplink'));
      const both = samples.map((s) => perRequest(s, 'door') + perRequest(s, 'uplink'));
      const errors = samples.reduce((n, s) => n + s.errors + s.non2xx, 0);
      const others = picked.map((r) => r.othersPercent);
      lines.push(
        `| ${connections} | ${scenario} | ${samples.length} | ${fmt(median(samples.map((s) => s.rps)))} | ${fmt(median(door), 1)} (${spread(door)}) | ${fmt(median(uplink), 1)} (${spread(uplink)}) | ${fmt(median(both), 1)} (${spread(both)}) | ${fmt(median(samples.map((s) => s.p50Ms)), 3)} | ${fmt(median(samples.map((s) => s.p99Ms)), 3)} | ${errors} | ${fmt(median(others))} (max ${fmt(Math.max(...others))}) |`,
      );
    }
  }
  lines.push(
    '',
    'Anvil ÷ native, per round (the two scenarios of one round paired), median and rounds:',
    '',
  );
  for (const connections of connectionCounts) {
    const native = pick('native-uplink', connections);
    const anvil = pick('anvil-uplink', connections);
    const ratios = (name: string | undefined) =>
      anvil.flatMap((a) => {
        const n = native.find((r) => r.round === a.round);
        if (n === undefined) return [];
        const of = (s: Sample) =>
          name === undefined
            ? perRequest(s, 'door') + perRequest(s, 'uplink')
            : perRequest(s, name);
        return [of(a.sample) / of(n.sample)];
      });
    const door = ratios('door');
    const both = ratios(undefined);
    lines.push(
      `- ${connections} connection(s): door ${fmt(median(door), 2)}× (${spread(door, 2)}); door + uplink ${fmt(median(both), 2)}× (${spread(both, 2)})`,
    );
  }
  return lines;
}

async function main(): Promise<void> {
  const client = findAnvilClient();
  if (typeof client === 'string') {
    console.error(`bench:anvil skipped: ${client}`);
    return;
  }
  const startedAt = Date.now();
  const nativeServer = startScript('door-native', 'bench/servers/switchboard.ts', {
    BENCH_KEY: KEY,
  });
  const nativeUrl = (await nativeServer.line(/^ready /)).slice(6);
  const nativeUplink = startScript('uplink-native', 'bench/servers/uplink-worker.ts', {
    BENCH_URL: nativeUrl,
    BENCH_KEY: KEY,
  });
  await nativeUplink.line(/^ready/);
  const anvilServer = startScript('door-anvil', 'bench/servers/switchboard.ts', { BENCH_KEY: KEY });
  const anvilUrl = (await anvilServer.line(/^ready /)).slice(6);
  const anvilUplink = await startAnvilUplink(client, anvilUrl, KEY, 'uplink-anvil');
  const scenarios: Record<Scenario, { target: string; door: Proc; uplink: Proc }> = {
    'native-uplink': {
      target: `${nativeUrl}/_/api/hello/world`,
      door: nativeServer,
      uplink: nativeUplink,
    },
    'anvil-uplink': {
      target: `${anvilUrl}/_/api/hello/world`,
      door: anvilServer,
      uplink: anvilUplink,
    },
  };
  const answers = [
    await answered(scenarios['native-uplink'].target),
    await answered(scenarios['anvil-uplink'].target),
  ];
  if (answers[0] !== answers[1])
    console.error(`note: the answers differ: native ${answers[0]}, anvil ${answers[1]}`);

  let quietWaitS = 0;
  let retries = 0;
  const measureOnce = async (
    scenario: Scenario,
    connections: number,
    paced: boolean,
    seconds: number,
  ): Promise<{ sample: Sample; othersPercent: number }> => {
    const { target, door, uplink } = scenarios[scenario];
    quietWaitS += await quiet();
    const busy = machineBusySeconds();
    const started = performance.now();
    const sample = await runLoad(
      'bench/load/http-load.ts',
      {
        BENCH_TARGET: target,
        BENCH_CONNECTIONS: String(connections),
        ...(paced ? { BENCH_RATE: String(rate) } : {}),
      },
      { door: door.pid, uplink: uplink.pid },
      seconds,
    );
    const window = (performance.now() - started) / 1000;
    const ours = Object.values(sample.usage).reduce((sum, u) => sum + u.cpuSeconds, 0);
    const othersPercent = ((machineBusySeconds() - busy - ours) / window) * 100;
    return { sample, othersPercent };
  };
  /** A measurement, taken again (`--retries` times at most) while others used over half a core. */
  const measureOne = async (
    scenario: Scenario,
    connections: number,
    paced: boolean,
    seconds = durationS,
  ): Promise<{ sample: Sample; othersPercent: number }> => {
    let result = await measureOnce(scenario, connections, paced, seconds);
    for (let retry = 0; retry < maxRetries && result.othersPercent > NOISY_PERCENT; retry++) {
      retries++;
      process.stderr.write(
        `  ${scenario} c=${connections}: others used ${Math.round(result.othersPercent)}% CPU meanwhile, measuring again\n`,
      );
      result = await measureOnce(scenario, connections, paced, seconds);
    }
    return result;
  };

  /** CPU ms per second of every process while nothing loads them (timers, heartbeats). */
  const idle = async (): Promise<Record<string, number>> => {
    const pids = Object.fromEntries(
      Object.values(scenarios).flatMap(({ door, uplink }) => [
        [door.name, door.pid],
        [uplink.name, uplink.pid],
      ]),
    ) as Record<string, number>;
    const { usage } = await measure(
      pids,
      () => new Promise((resolve) => setTimeout(resolve, 3000)),
    );
    return Object.fromEntries(
      Object.entries(usage).map(([name, u]) => [name, (u.cpuSeconds / 3) * 1000]),
    );
  };

  // Warm-up, not recorded: JIT, connection pools, the Python client's first threads.
  if (!quick)
    for (const scenario of Object.keys(scenarios) as Scenario[])
      await measureOne(scenario, connectionCounts[0] ?? 50, true, 3);

  const rows: Row[] = [];
  const idleRounds: Record<string, number>[] = [];
  for (let round = 1; round <= rounds; round++) {
    idleRounds.push(await idle());
    // A B, then B A: neither scenario always runs first.
    const order: Scenario[] =
      round % 2 === 1 ? ['native-uplink', 'anvil-uplink'] : ['anvil-uplink', 'native-uplink'];
    for (const connections of connectionCounts) {
      for (const scenario of order) {
        const { sample, othersPercent } = await measureOne(scenario, connections, true);
        rows.push({ scenario, rate, connections, round, sample, othersPercent });
        process.stderr.write(
          `round ${round} c=${connections} ${scenario}: ${Math.round(sample.rps)} req/s, door ${fmt(perRequest(sample, 'door'), 1)} µs, uplink ${fmt(perRequest(sample, 'uplink'), 1)} µs per request, others ${Math.round(othersPercent)}% CPU\n`,
        );
      }
    }
    if (!values['skip-max'])
      for (const scenario of order) {
        const { sample, othersPercent } = await measureOne(scenario, 50, false, maxDurationS);
        rows.push({ scenario, rate: undefined, connections: 50, round, sample, othersPercent });
        process.stderr.write(
          `round ${round} unpaced c=50 ${scenario}: ${Math.round(sample.rps)} req/s\n`,
        );
      }
  }

  const reconnects = anvilUplink.count(/^Anvil websocket open/) - 1;
  const closes = anvilUplink.count(/^Anvil websocket closed/);
  const alive = anvilUplink.child.exitCode === null && nativeUplink.child.exitCode === null;
  const pythonStderr = anvilUplink.stderr().trim();
  await stopAll();

  const lines: string[] = [];
  const machine = `${os.cpus().length} × ${os.cpus()[0]?.model ?? 'cpu'}, Node ${process.version}, ${client.version}`;
  lines.push(
    `### Anvil-dialect uplink — ${new Date().toISOString()}`,
    '',
    `Machine: ${machine}. Client: ${client.pythonPath}. ${rounds} round(s) of ${durationS} s per measurement at ${rate} req/s, scenarios alternated (A B, B A, …); medians over rounds, the rounds' values sorted in brackets. CPU per request = the process's utime+stime over the window ÷ responses. Took ${Math.round((Date.now() - startedAt) / 1000)} s.`,
    '',
  );
  const paced = rows.filter((r) => r.rate !== undefined);
  lines.push(...pacedTables(paced));
  // The rounds in which neither measurement of a pair shared the machine with over half a core.
  const quietRows = paced.filter((row) =>
    paced.every(
      (other) =>
        other.round !== row.round ||
        other.connections !== row.connections ||
        other.othersPercent <= NOISY_PERCENT,
    ),
  );
  if (quietRows.length < paced.length && quietRows.length > 0) {
    lines.push(
      '',
      `#### Quiet rounds only (others used at most ${NOISY_PERCENT}% of a core during both measurements of the pair)`,
      '',
      ...pacedTables(quietRows),
    );
  }
  const unpaced = rows.filter((r) => r.rate === undefined);
  if (unpaced.length > 0) {
    lines.push(
      '',
      `Unpaced, 50 connections, ${maxDurationS} s (the ceiling each path reaches):`,
      '',
    );
    for (const scenario of ['native-uplink', 'anvil-uplink'] as const) {
      const samples = unpaced.filter((r) => r.scenario === scenario).map((r) => r.sample);
      const rps = samples.map((s) => s.rps);
      const cpu = (name: string) => median(samples.map((s) => s.usage[name]?.cpuPercent ?? NaN));
      lines.push(
        `- ${scenario}: ${fmt(median(rps))} req/s (${spread(rps)}), door ${fmt(cpu('door'))}% CPU, uplink ${fmt(cpu('uplink'))}% CPU, p50 ${fmt(median(samples.map((s) => s.p50Ms)), 3)} ms`,
      );
    }
  }
  const idleNames = Object.keys(idleRounds[0] ?? {});
  lines.push(
    '',
    `Idle, no load (CPU ms per second, median of ${idleRounds.length}): ${idleNames.map((name) => `${name} ${fmt(median(idleRounds.map((r) => r[name] ?? NaN)), 1)}`).join(', ')}. A measurement's window is its duration plus the load process's start (about 1–2 s).`,
    '',
    `Waited ${quietWaitS} s in all for a quiet machine before measurements (at most ${quietS} s each); ${retries} measurement(s) taken again because others used over ${NOISY_PERCENT}% of a core meanwhile (at most ${maxRetries} times each).`,
    '',
    `Anvil client: ${reconnects} reconnect(s), ${closes} close(s) seen; ${alive ? 'both uplinks alive at the end' : 'an uplink had exited before the end'}.`,
  );
  if (pythonStderr !== '')
    lines.push('', 'Python client stderr (last lines):', '', '```', pythonStderr, '```');
  console.log(lines.join('\n'));
  saveResults('anvil', {
    machine,
    client: client.pythonPath,
    rate,
    rounds,
    durationS,
    reconnects,
    closes,
    idle: idleRounds,
    rows,
  });
}

runMain(main);
