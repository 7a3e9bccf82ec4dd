// The performance issue's targets (docs/performance.md), checked against the summary of one run
// (`npm run bench` prints them) or the median of several (`npm run bench:targets`).

export interface Run {
  file: string;
  summary: Record<string, number>;
}

interface Target {
  name: string;
  /** The figure's key in a run's summary (bench/report.ts). */
  key: string;
  goal: string;
  met: (value: number) => boolean;
  format: (value: number) => string;
}

const ratio = (value: number): string => `${value.toFixed(2)}×`;
const micros = (value: number): string => `${value.toFixed(1)} µs`;
const overFloor = (value: number): string =>
  `floor ${value >= 0 ? '+' : '−'} ${Math.abs(value).toFixed(0)} µs`;

export const TARGETS: Target[] = [
  {
    name: 'GET through one uplink: CPU per request (door + uplink) at a fixed rate',
    key: 'GET /hello/:name | switchboard-uplink | cpu × ceiling',
    goal: '≤ 1.5× ceiling',
    met: (v) => v <= 1.5,
    format: ratio,
  },
  {
    name: "GET through one uplink: the uplink's share",
    key: 'GET /hello/:name | switchboard-uplink | uplink µs/req',
    goal: '≤ 10 µs',
    met: (v) => v <= 10,
    format: micros,
  },
  {
    name: '1 KiB JSON echo: CPU per request at a fixed rate',
    key: 'POST /echo 1 KiB | switchboard-uplink | cpu × ceiling',
    goal: '≤ 1.25× ceiling',
    met: (v) => v <= 1.25,
    format: ratio,
  },
  {
    name: '1 MiB JSON echo: requests/s',
    key: 'POST /echo 1 MiB | switchboard-uplink | ratio',
    goal: '≥ 1.0× ceiling',
    met: (v) => v >= 1.0,
    format: ratio,
  },
  {
    name: '1 MiB JSON echo: door RSS',
    key: 'POST /echo 1 MiB | switchboard-uplink | server RSS × ceiling',
    goal: "≤ the ceiling's",
    met: (v) => v <= 1.0,
    format: ratio,
  },
  {
    name: 'added p50 latency at 1 connection (GET)',
    key: 'GET /hello/:name | switchboard-uplink | added p50 − floor µs',
    goal: '≤ floor + 40 µs',
    met: (v) => v <= 40,
    format: overFloor,
  },
  {
    name: 'RPC uplink→uplink, 64 in flight',
    key: 'rpc | switchboard uplink→uplink | 64 | × nats',
    goal: '≥ 4× NATS at its best',
    met: (v) => v >= 4,
    format: ratio,
  },
  {
    name: 'RPC uplink→uplink, 1 in flight: p50 of the two hops',
    key: 'rpc | switchboard uplink→uplink | 1 | p50 − floor µs',
    goal: '≤ floor + 60 µs',
    met: (v) => v <= 60,
    format: overFloor,
  },
  {
    name: 'server RSS per idle uplink (10,000)',
    key: 'idle KiB per connection',
    goal: '≤ 8 KiB',
    met: (v) => v <= 8,
    format: (v) => `${v.toFixed(1)} KiB`,
  },
  {
    name: 'cluster: a request crossing two servers, CPU per request',
    key: 'GET /hello/:name | cluster-remote | cpu × local',
    goal: '≤ 1.5× served locally',
    met: (v) => v <= 1.5,
    format: ratio,
  },
];

/** Targets measured by other scripts, named so that none is dropped silently. */
export const ELSEWHERE = [
  '50,000 idle uplinks on one server — `npm run bench:idle` (both loopback addresses, the descriptor limit raised where the machine permits; where it does not, the most it allows, said so)',
  'soak, 10 minutes at half capacity: 0 errors, RSS growth < 5% — `npm run bench:soak`',
  'cluster scaling, two servers each with its own uplink ≥ 1.7× one server given the cores — `npm run bench:cluster` (2 cores here: see docs/performance.md)',
];

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = sorted.length >> 1;
  return sorted.length % 2 === 1 ? sorted[middle]! : (sorted[middle - 1]! + sorted[middle]!) / 2;
}

/** A markdown table: every target, each run's figure, the median and whether it is met. */
export function renderTargets(runs: Run[]): string {
  const lines = [
    `| target | goal | ${runs.map((run) => run.file).join(' | ')} | median | met |`,
    `|---|---|${runs.map(() => '---|').join('')}---|---|`,
  ];
  for (const target of TARGETS) {
    const values = runs.map((run) => run.summary[target.key]);
    const present = values.filter((v): v is number => v !== undefined && Number.isFinite(v));
    const mid = present.length > 0 ? median(present) : undefined;
    const cells = values.map((v) =>
      v === undefined || !Number.isFinite(v) ? '—' : target.format(v),
    );
    const met = mid === undefined ? 'not measured' : target.met(mid) ? 'met' : 'not met';
    lines.push(
      `| ${target.name} | ${target.goal} | ${cells.join(' | ')} | ${mid === undefined ? '—' : target.format(mid)} | ${met} |`,
    );
  }
  lines.push('', ...ELSEWHERE.map((line) => `- ${line}`));
  return lines.join('\n');
}
