// npm run bench:targets [-- file.json …]
// The benchmark issue's targets, checked against the median of several full runs (default: the
// three newest bench/results/bench-*.json that measured every route, RPC and idle connections).
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const RESULTS = path.join(path.dirname(fileURLToPath(import.meta.url)), 'results');

interface Run {
  file: string;
  summary: Record<string, number>;
}

interface Target {
  name: string;
  key: string;
  goal: string;
  met: (value: number) => boolean;
  format: (value: number) => string;
}

const ratio = (value: number): string => `${value.toFixed(2)}×`;
const TARGETS: Target[] = [
  {
    name: 'small GET through an uplink, 50 connections',
    key: 'GET /hello/:name | switchboard-uplink | ratio',
    goal: '≥ 0.60× ceiling',
    met: (v) => v >= 0.6,
    format: ratio,
  },
  {
    name: '1 KiB JSON echo',
    key: 'POST /echo 1 KiB | switchboard-uplink | ratio',
    goal: '≥ 0.85×',
    met: (v) => v >= 0.85,
    format: ratio,
  },
  {
    name: '1 MiB JSON echo',
    key: 'POST /echo 1 MiB | switchboard-uplink | ratio',
    goal: '≥ 1.0×',
    met: (v) => v >= 1.0,
    format: ratio,
  },
  {
    name: 'added median latency at 1 connection (GET)',
    key: 'GET /hello/:name | switchboard-uplink | added p50 µs @1',
    goal: '≤ 60 µs',
    met: (v) => v <= 60,
    format: (v) => `+${v.toFixed(0)} µs`,
  },
  {
    name: 'uplink→uplink call(), 64 in flight',
    key: 'rpc | switchboard uplink→uplink | 64 | × nats',
    goal: '≥ 3× NATS',
    met: (v) => v >= 3,
    format: ratio,
  },
  {
    name: 'idle uplink connections',
    key: 'idle KiB per connection',
    goal: '≤ 20 KiB each',
    met: (v) => v <= 20,
    format: (v) => `${v.toFixed(1)} KiB`,
  },
];

function load(file: string): Run {
  const parsed = JSON.parse(readFileSync(file, 'utf8')) as { summary?: Record<string, number> };
  return { file: path.basename(file), summary: parsed.summary ?? {} };
}

function complete(run: Run): boolean {
  return TARGETS.every((target) => run.summary[target.key] !== undefined);
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = sorted.length >> 1;
  return sorted.length % 2 === 1 ? sorted[middle]! : (sorted[middle - 1]! + sorted[middle]!) / 2;
}

const given = process.argv.slice(2).filter((arg) => arg !== '--');
const runs =
  given.length > 0
    ? given.map(load)
    : readdirSync(RESULTS)
        .filter((name) => /^bench-.*\.json$/.test(name))
        .sort()
        .reverse()
        .map((name) => load(path.join(RESULTS, name)))
        .filter(complete)
        .slice(0, 3)
        .reverse();
if (runs.length === 0) {
  console.error('No complete runs found: run `npm run bench` (full mode, nats-server installed).');
  process.exit(1);
}

console.log(`Median of ${runs.length} run(s): ${runs.map((run) => run.file).join(', ')}\n`);
console.log(`| target | goal | ${runs.map((_, i) => `run ${i + 1}`).join(' | ')} | median | met |`);
console.log(`|---|---|${runs.map(() => '---|').join('')}---|---|`);
for (const target of TARGETS) {
  const values = runs.map((run) => run.summary[target.key]);
  const present = values.filter((v): v is number => v !== undefined);
  const mid = present.length > 0 ? median(present) : undefined;
  const cells = values.map((v) => (v === undefined ? '—' : target.format(v)));
  console.log(
    `| ${target.name} | ${target.goal} | ${cells.join(' | ')} | ${mid === undefined ? '—' : target.format(mid)} | ${mid === undefined ? '—' : target.met(mid) ? 'yes' : 'no'} |`,
  );
}
