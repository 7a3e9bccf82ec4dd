// Large-body throughput: MiB/s of streamed downloads and uploads through one uplink, against
// plain Fastify serving and sinking the same bytes in-process (the ceiling), measured
// alternately in one run. `npm run bench:large [-- --quick] [--mib N] [--rounds N]`.
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import {
  ROOT,
  saveResults,
  startProcess,
  startScript,
  stopAll,
  type Proc,
} from './lib/processes.ts';
import { measure } from './lib/proc-stats.ts';

const { values } = parseArgs({
  options: {
    quick: { type: 'boolean', default: false },
    mib: { type: 'string' },
    rounds: { type: 'string' },
    transfers: { type: 'string' },
  },
});
const quick = values.quick === true;
const mib = Number(values.mib ?? (quick ? 64 : 256));
const rounds = Number(values.rounds ?? (quick ? 1 : 3));
const transfers = Number(values.transfers ?? (quick ? 2 : 3));
const KEY = 'sbk_s_bench-large-key-0123456789abcdef';

type Scenario = 'ceiling' | 'switchboard-uplink';
type Mode = 'download' | 'upload';
interface Sample {
  scenario: Scenario;
  mode: Mode;
  rate: number;
  usage: Record<string, { cpuPercent: number; rssMiB: number }>;
}

function median(list: number[]): number {
  const sorted = [...list].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

async function transfer(
  url: string,
  mode: Mode,
  pids: Record<string, number>,
): Promise<{ rate: number; usage: Sample['usage'] }> {
  const { result, usage } = await measure(pids, async () => {
    const proc = startLoad(url, mode);
    const line = await proc.line(/^\{"rates"/, 600_000);
    return (JSON.parse(line) as { rates: number[] }).rates;
  });
  return { rate: median(result), usage };
}

function startLoad(url: string, mode: Mode): Proc {
  const script = path.join(ROOT, 'bench/load/large-load.ts');
  const args = ['--import', 'tsx', script, url, mode, String(mib), String(transfers)];
  return startProcess('load', process.execPath, args);
}

const started = Date.now();
const samples: Sample[] = [];
try {
  const ceiling = startScript('ceiling', 'bench/servers/large-ceiling.ts');
  const ceilingUrl = (await ceiling.line(/^ready /)).slice(6);
  const server = startScript('sb-server', 'bench/servers/switchboard.ts', { BENCH_KEY: KEY });
  const serverUrl = (await server.line(/^ready /)).slice(6);
  const uplink = startScript('uplink', 'bench/servers/large-uplink.ts', {
    BENCH_URL: serverUrl,
    BENCH_KEY: KEY,
  });
  await uplink.line(/^ready$/);
  for (let round = 1; round <= rounds; round++) {
    for (const mode of ['download', 'upload'] as const) {
      for (const scenario of ['ceiling', 'switchboard-uplink'] as const) {
        const url = scenario === 'ceiling' ? ceilingUrl : `${serverUrl}/_/api`;
        const pids: Record<string, number> =
          scenario === 'ceiling'
            ? { ceiling: ceiling.pid }
            : { 'sb-server': server.pid, uplink: uplink.pid };
        const { rate, usage } = await transfer(url, mode, pids);
        samples.push({ scenario, mode, rate, usage });
        process.stderr.write(`round ${round} ${mode} ${scenario}: ${rate.toFixed(0)} MiB/s\n`);
      }
    }
  }
} finally {
  await stopAll();
}

const lines = [
  `### Large bodies — ${new Date().toISOString()}`,
  '',
  `Machine: ${os.cpus().length} × ${os.cpus()[0]?.model ?? 'cpu'}, Node ${process.version}. ${rounds} round(s) of ${transfers} transfers of ${mib} MiB, scenarios alternated; medians. Took ${Math.round((Date.now() - started) / 1000)} s.`,
  '',
  '| transfer | scenario | MiB/s | × ceiling | CPU% / RSS (per process) |',
  '| -------- | -------- | ----- | --------- | ------------------------ |',
];
for (const mode of ['download', 'upload'] as const) {
  const base = median(
    samples.filter((s) => s.mode === mode && s.scenario === 'ceiling').map((s) => s.rate),
  );
  for (const scenario of ['ceiling', 'switchboard-uplink'] as const) {
    const rows = samples.filter((s) => s.mode === mode && s.scenario === scenario);
    const rate = median(rows.map((s) => s.rate));
    const names = Object.keys(rows[0]?.usage ?? {});
    const usage = names
      .map((name) => {
        const cpu = median(rows.map((s) => s.usage[name]?.cpuPercent ?? 0));
        const rss = median(rows.map((s) => s.usage[name]?.rssMiB ?? 0));
        return `${name} ${cpu}% ${rss} MiB`;
      })
      .join(', ');
    lines.push(
      `| ${mode} ${mib} MiB | ${scenario} | ${rate.toFixed(0)} | ${(rate / base).toFixed(2)} | ${usage} |`,
    );
  }
}
const report = lines.join('\n');
console.log(report);
saveResults('large', { mib, rounds, transfers, samples });
