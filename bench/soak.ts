// npm run bench:soak [-- --minutes 10 --route get|echo-1k|echo-1m --rate N]
// The soak target: a Switchboard server with one uplink worker, its capacity measured first
// (as fast as 50 connections go, after a warm-up), then loaded at half of it for `--minutes`
// (or at `--rate`). Every 10 s it records the RSS and CPU of the server and the uplink. Met when
// no request failed and the server's RSS in the last minute is less than 5% above its RSS in the
// second (the lowest sample of each: RSS swings by ±10% between garbage collections; medians
// are printed too). Stops everything it started, by PID.
import { setTimeout as sleep } from 'node:timers/promises';
import { parseArgs } from 'node:util';
import { runLoad } from './lib/load.ts';
import { ROUTES } from './lib/profiled-scenario.ts';
import { sampleProcess } from './lib/proc-stats.ts';
import { KEY, runMain, saveResults, startScript, stopAll, type Proc } from './lib/processes.ts';
import type { Sample as LoadSample } from './report.ts';

const { values } = parseArgs({
  options: {
    minutes: { type: 'string', default: '10' },
    route: { type: 'string', default: 'get' },
    rate: { type: 'string' },
    connections: { type: 'string', default: '50' },
  },
});
const chosen = ROUTES[values.route];
if (chosen === undefined)
  throw new Error(`unknown route ${values.route} (${Object.keys(ROUTES).join(', ')})`);
const route = chosen;
const minutes = Number(values.minutes);
const SAMPLE_EVERY_S = 10;
/** RSS growth allowed over the soak (target): the last minute against the second. */
const MAX_GROWTH = 0.05;

/** The server's and the uplink's figures, every SAMPLE_EVERY_S. */
interface Reading {
  atS: number;
  serverRssMiB: number;
  uplinkRssMiB: number;
  serverCpuPercent: number;
  uplinkCpuPercent: number;
}

interface Window {
  min: number;
  median: number;
}

/**
 * A process's RSS in the second minute of the soak (the first is warm-up: JIT, the heap
 * reaching its working size) and in the last: the lowest sample of each (what the GC leaves:
 * RSS swings by ±10% between collections at this rate) and the median.
 */
function windows(
  samples: Reading[],
  key: 'serverRssMiB' | 'uplinkRssMiB',
): { first: Window; last: Window } {
  const end = samples.at(-1)!.atS;
  const of = (from: number, to: number): Window => {
    const values = samples
      .filter((s) => s.atS > from && s.atS <= to)
      .map((s) => s[key])
      .sort((a, b) => a - b);
    if (values.length === 0) throw new Error(`no samples between ${from} and ${to} s`);
    return { min: values[0]!, median: values[values.length >> 1]! };
  };
  return { first: of(Math.min(60, end / 2), Math.min(120, end)), last: of(end - 60, end) };
}

function read(proc: Proc): { cpuSeconds: number; rssKiB: number } {
  const sample = sampleProcess(proc.pid);
  if (sample === undefined) throw new Error(`${proc.name} exited: ${proc.stderr()}`);
  return sample;
}

async function main(): Promise<void> {
  const server = startScript('sb-server', 'bench/servers/switchboard.ts', { BENCH_KEY: KEY });
  const url = (await server.line(/^ready /)).replace(/^ready /, '').trim();
  const uplink = startScript('uplink', 'bench/servers/uplink-worker.ts', {
    BENCH_URL: url,
    BENCH_KEY: KEY,
  });
  await uplink.line(/^ready/);
  const env = {
    BENCH_TARGET: `${url}/_/api${route.path}`,
    BENCH_METHOD: route.method,
    BENCH_BODY_BYTES: String(route.bodyBytes),
    BENCH_CONNECTIONS: values.connections,
  };
  const watch = { server: server.pid, uplink: uplink.pid };
  const load = (durationS: number, rate?: number): Promise<LoadSample> =>
    runLoad(
      'bench/load/http-load.ts',
      rate === undefined ? env : { ...env, BENCH_RATE: String(rate) },
      watch,
      durationS,
    );

  let rate = values.rate === undefined ? undefined : Number(values.rate);
  let capacity: LoadSample | undefined;
  if (rate === undefined) {
    await load(3); // warm-up
    capacity = await load(5);
    rate = Math.round(capacity.rps / 2);
    console.log(`capacity ${Math.round(capacity.rps)} req/s: soaking at ${rate} req/s`);
  }

  const durationS = minutes * 60;
  const samples: Reading[] = [];
  let last = { server: read(server), uplink: read(uplink) };
  const startRss = { server: last.server.rssKiB / 1024, uplink: last.uplink.rssKiB / 1024 };
  let loading = true;
  const soaking = load(durationS, rate).finally(() => (loading = false));
  const started = Date.now();
  const sampling = async (): Promise<void> => {
    for (let at = SAMPLE_EVERY_S; at <= durationS; at += SAMPLE_EVERY_S) {
      await sleep(started + at * 1000 - Date.now());
      if (!loading) return;
      const now = { server: read(server), uplink: read(uplink) };
      const cpu = (key: 'server' | 'uplink') =>
        Math.round(((now[key].cpuSeconds - last[key].cpuSeconds) / SAMPLE_EVERY_S) * 100);
      samples.push({
        atS: at,
        serverRssMiB: now.server.rssKiB / 1024,
        uplinkRssMiB: now.uplink.rssKiB / 1024,
        serverCpuPercent: cpu('server'),
        uplinkCpuPercent: cpu('uplink'),
      });
      process.stderr.write(
        `${at} s: server RSS ${(now.server.rssKiB / 1024).toFixed(1)} MiB, CPU ${cpu('server')}%; uplink ${(now.uplink.rssKiB / 1024).toFixed(1)} MiB\n`,
      );
      last = now;
    }
  };
  // Together: a process that dies fails the run (and main stops the rest), not a stray promise.
  const [soak] = await Promise.all([soaking, sampling()]);
  await stopAll();

  const serverRss = windows(samples, 'serverRssMiB');
  const uplinkRss = windows(samples, 'uplinkRssMiB');
  const growth = serverRss.last.min / serverRss.first.min - 1;
  const failed = soak.errors + soak.non2xx;
  const pct = (value: number) => `${value >= 0 ? '+' : ''}${(value * 100).toFixed(1)}%`;
  const mib = (w: Window) => `${w.min.toFixed(1)} / ${w.median.toFixed(1)}`;
  const lines = [
    `Soak: ${route.method} ${route.path} through one uplink, ${minutes} min at ${rate} req/s (${values.connections} connections)`,
    '',
    '| requests | req/s | p50 | p99 | failed |',
    '|---|---|---|---|---|',
    `| ${soak.samples} | ${Math.round(soak.rps)} | ${soak.p50Ms.toFixed(2)} ms | ${soak.p99Ms.toFixed(2)} ms | ${failed} |`,
    '',
    `RSS (MiB, lowest / median of the samples of the minute; the lowest is what is left after the GC): before the load ${startRss.server.toFixed(1)} (uplink ${startRss.uplink.toFixed(1)})`,
    '',
    '| process | second minute | last minute | growth of the lowest | of the median |',
    '|---|---|---|---|---|',
    `| server | ${mib(serverRss.first)} | ${mib(serverRss.last)} | ${pct(growth)} | ${pct(serverRss.last.median / serverRss.first.median - 1)} |`,
    `| uplink | ${mib(uplinkRss.first)} | ${mib(uplinkRss.last)} | ${pct(uplinkRss.last.min / uplinkRss.first.min - 1)} | ${pct(uplinkRss.last.median / uplinkRss.first.median - 1)} |`,
    '',
    `target: soak, ${minutes} min at half capacity, 0 errors — ${failed} failed: ${failed === 0 ? 'met' : 'not met'}`,
    `target: soak, server RSS growth < 5% — ${pct(growth)}: ${growth < MAX_GROWTH ? 'met' : 'not met'}`,
  ];
  console.log(lines.join('\n'));
  saveResults('soak', {
    route: values.route,
    minutes,
    rate,
    capacity,
    soak,
    startRss,
    samples,
    growth,
  });
}

runMain(main);
