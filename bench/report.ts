// Turns the raw samples of a bench run into medians, ratios and markdown tables.
import type { IdleResult } from './lib/idle.ts';
import type { Usage } from './lib/proc-stats.ts';

export interface Sample {
  rps: number;
  p50Ms: number;
  p99Ms: number;
  errors: number;
  non2xx: number;
  samples: number;
  usage: Record<string, Usage>;
}
export interface HttpRow {
  scenario: string;
  route: string;
  connections: number;
  /** A fixed request rate (req/s) for CPU per request; absent: as fast as it goes. */
  rate?: number;
  round: number;
  sample: Sample;
}
export interface RpcRow {
  scenario: string;
  inFlight: number;
  round: number;
  sample: Sample;
}
export type IdleRow = IdleResult;

function median(values: number[]): number {
  const sorted = [...values].filter((v) => Number.isFinite(v)).sort((a, b) => a - b);
  if (sorted.length === 0) return NaN;
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

function medianUsage(samples: Sample[]): string {
  const names = Object.keys(samples[0]?.usage ?? {});
  return names
    .map((name) => {
      const cpu = median(samples.map((s) => s.usage[name]?.cpuPercent ?? NaN));
      const rss = median(samples.map((s) => s.usage[name]?.rssMiB ?? NaN));
      return `${name} ${Math.round(cpu)}% ${Math.round(rss)} MiB`;
    })
    .join(', ');
}

const fmt = (n: number, digits = 0) => (Number.isFinite(n) ? n.toFixed(digits) : '—');
const ms = (n: number) => (Number.isFinite(n) ? `${n.toFixed(3)}` : '—');

/** CPU µs per request of every process of a scenario but the load, or of the one named. */
function cpuPerRequest(sample: Sample, durationS: number, only?: string): number {
  let seconds = 0;
  for (const [name, usage] of Object.entries(sample.usage)) {
    if (name === 'load' || (only !== undefined && name !== only)) continue;
    seconds += usage.cpuSeconds;
  }
  return (seconds / (sample.rps * durationS)) * 1e6;
}

export function renderReport(input: {
  http: HttpRow[];
  rpc: RpcRow[];
  idle: IdleRow[];
  /** Bare WebSocket round trips between two processes, µs, one per round. */
  floorP50Us: number[];
  rounds: number;
  durationS: number;
}) {
  const { http: allHttp, rpc, idle, durationS } = input;
  const http = allHttp.filter((r) => r.rate === undefined);
  const rated = allHttp.filter((r) => r.rate !== undefined);
  const lines: string[] = [];
  const summary: Record<string, number> = {};
  const routes = [...new Set(http.map((r) => r.route))];
  const scenarios = [...new Set(http.map((r) => r.scenario))];
  lines.push('## HTTP', '');
  lines.push(
    '| route | scenario | req/s @50 | × ceiling | p50 ms @50 | p99 ms @50 | p50 ms @1 | p99 ms @1 | +p50 µs @1 | errors | CPU% / RSS @50 (per process) |',
  );
  lines.push('|---|---|---|---|---|---|---|---|---|---|---|');
  for (const route of routes) {
    const pick = (scenario: string, connections: number) =>
      http
        .filter(
          (r) => r.route === route && r.scenario === scenario && r.connections === connections,
        )
        .map((r) => r.sample);
    const ceiling50 = median(pick('ceiling', 50).map((s) => s.rps));
    const ceilingP50At1 = median(pick('ceiling', 1).map((s) => s.p50Ms));
    for (const scenario of scenarios) {
      const at50 = pick(scenario, 50);
      const at1 = pick(scenario, 1);
      const rps = median(at50.map((s) => s.rps));
      const ratio = rps / ceiling50;
      const p50At1 = median(at1.map((s) => s.p50Ms));
      const added = (p50At1 - ceilingP50At1) * 1000;
      const errors = [...at50, ...at1].reduce((n, s) => n + s.errors + s.non2xx, 0);
      summary[`${route} | ${scenario} | ratio`] = ratio;
      summary[`${route} | ${scenario} | added p50 µs @1`] = added;
      lines.push(
        `| ${route} | ${scenario} | ${fmt(rps)} | ${fmt(ratio, 2)} | ${ms(median(at50.map((s) => s.p50Ms)))} | ${ms(median(at50.map((s) => s.p99Ms)))} | ${ms(p50At1)} | ${ms(median(at1.map((s) => s.p99Ms)))} | ${scenario === 'ceiling' ? '—' : fmt(added)} | ${errors} | ${medianUsage(at50)} |`,
      );
    }
  }
  const floor = median(input.floorP50Us);
  if (Number.isFinite(floor)) {
    summary['floor ws p50 µs'] = floor;
    const added = summary['GET /hello/:name | switchboard-uplink | added p50 µs @1'];
    if (added !== undefined)
      summary['GET /hello/:name | switchboard-uplink | added p50 − floor µs'] = added - floor;
    lines.push(
      '',
      `Floor: bare WebSocket round trip between two processes, p50 ${fmt(floor)} µs (median of ${input.floorP50Us.length}).`,
    );
  }
  if (rated.length > 0) {
    lines.push('', '## CPU per request at a fixed rate (50 connections)', '');
    lines.push(
      '| route | scenario | rate | req/s | CPU µs per request (all but the load) | × ceiling | per process µs |',
    );
    lines.push('|---|---|---|---|---|---|---|');
    for (const route of [...new Set(rated.map((r) => r.route))]) {
      const pick = (scenario: string) =>
        rated.filter((r) => r.route === route && r.scenario === scenario).map((r) => r.sample);
      const ceiling = median(pick('ceiling').map((s) => cpuPerRequest(s, durationS)));
      for (const scenario of [...new Set(rated.map((r) => r.scenario))]) {
        const samples = pick(scenario);
        if (samples.length === 0) continue;
        const cpu = median(samples.map((s) => cpuPerRequest(s, durationS)));
        summary[`${route} | ${scenario} | cpu µs/req`] = cpu;
        summary[`${route} | ${scenario} | cpu × ceiling`] = cpu / ceiling;
        const perProcess = Object.keys(samples[0]!.usage)
          .filter((name) => name !== 'load')
          .map((name) => {
            const value = median(samples.map((s) => cpuPerRequest(s, durationS, name)));
            summary[`${route} | ${scenario} | ${name} µs/req`] = value;
            return `${name} ${fmt(value, 1)}`;
          })
          .join(', ');
        lines.push(
          `| ${route} | ${scenario} | ${rated.find((r) => r.route === route)!.rate} | ${fmt(median(samples.map((s) => s.rps)))} | ${fmt(cpu, 1)} | ${fmt(cpu / ceiling, 2)} | ${perProcess} |`,
        );
      }
      const local = summary[`${route} | cluster-local | cpu µs/req`];
      const remote = summary[`${route} | cluster-remote | cpu µs/req`];
      if (local !== undefined && remote !== undefined)
        summary[`${route} | cluster-remote | cpu × local`] = remote / local;
    }
  }
  const large = http.filter((r) => r.route === 'POST /echo 1 MiB' && r.connections === 50);
  if (large.length > 0) {
    const rss = (scenario: string, proc: string) =>
      median(
        large
          .filter((r) => r.scenario === scenario)
          .map((r) => r.sample.usage[proc]?.rssMiB ?? NaN),
      );
    summary['POST /echo 1 MiB | switchboard-uplink | server RSS × ceiling'] =
      rss('switchboard-uplink', 'sb-server') / rss('ceiling', 'ceiling');
  }
  if (rpc.length > 0) {
    lines.push('', '## RPC calls', '');
    lines.push(
      '| scenario | in flight | calls/s | × NATS (its best) | p50 ms | p99 ms | errors | CPU% / RSS (per process) |',
    );
    lines.push('|---|---|---|---|---|---|---|---|');
    for (const inFlight of [...new Set(rpc.map((r) => r.inFlight))]) {
      // NATS at its best: the faster of its modes.
      const nats = Math.max(
        ...[...new Set(rpc.map((r) => r.scenario))]
          .filter((scenario) => scenario.startsWith('nats'))
          .map((scenario) =>
            median(
              rpc
                .filter((r) => r.inFlight === inFlight && r.scenario === scenario)
                .map((r) => r.sample.rps),
            ),
          ),
      );
      for (const scenario of [...new Set(rpc.map((r) => r.scenario))]) {
        const samples = rpc
          .filter((r) => r.inFlight === inFlight && r.scenario === scenario)
          .map((r) => r.sample);
        const rps = median(samples.map((s) => s.rps));
        summary[`rpc | ${scenario} | ${inFlight} | × nats`] = rps / nats;
        const p50 = median(samples.map((s) => s.p50Ms));
        if (Number.isFinite(floor))
          summary[`rpc | ${scenario} | ${inFlight} | p50 − floor µs`] = p50 * 1000 - floor;
        lines.push(
          `| ${scenario} | ${inFlight} | ${fmt(rps)} | ${fmt(rps / nats, 2)} | ${ms(median(samples.map((s) => s.p50Ms)))} | ${ms(median(samples.map((s) => s.p99Ms)))} | ${samples.reduce((n, s) => n + s.errors, 0)} | ${medianUsage(samples)} |`,
        );
      }
    }
  }
  for (const row of idle) {
    summary['idle KiB per connection'] = row.kibPerConnection;
    lines.push('', '## Idle uplink connections', '');
    lines.push(
      `| connections | server RSS before | 1 s after the last opened | KiB per connection | ${row.settledAfterS} s after | KiB per connection |`,
    );
    lines.push('|---|---|---|---|---|---|');
    lines.push(
      `| ${row.connections} | ${fmt(row.rssBeforeMiB, 1)} MiB | ${fmt(row.rssAfterMiB, 1)} MiB | ${fmt(row.kibPerConnection, 1)} | ${fmt(row.rssSettledMiB, 1)} MiB | ${fmt(row.kibPerConnectionSettled, 1)} |`,
    );
  }
  return { markdown: lines.join('\n'), summary };
}
