// Turns the raw samples of a bench run into medians, ratios and markdown tables.
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
  round: number;
  sample: Sample;
}
export interface RpcRow {
  scenario: string;
  inFlight: number;
  round: number;
  sample: Sample;
}
export interface IdleRow {
  connections: number;
  rssBeforeMiB: number;
  rssAfterMiB: number;
  kibPerConnection: number;
}

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

export function renderReport(input: {
  http: HttpRow[];
  rpc: RpcRow[];
  idle: IdleRow[];
  rounds: number;
  durationS: number;
}) {
  const { http, rpc, idle } = input;
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
  if (rpc.length > 0) {
    lines.push('', '## RPC calls', '');
    lines.push(
      '| scenario | in flight | calls/s | × NATS | p50 ms | p99 ms | errors | CPU% / RSS (per process) |',
    );
    lines.push('|---|---|---|---|---|---|---|---|');
    for (const inFlight of [...new Set(rpc.map((r) => r.inFlight))]) {
      const nats = median(
        rpc
          .filter((r) => r.inFlight === inFlight && r.scenario.startsWith('nats'))
          .map((r) => r.sample.rps),
      );
      for (const scenario of [...new Set(rpc.map((r) => r.scenario))]) {
        const samples = rpc
          .filter((r) => r.inFlight === inFlight && r.scenario === scenario)
          .map((r) => r.sample);
        const rps = median(samples.map((s) => s.rps));
        summary[`rpc | ${scenario} | ${inFlight} | × nats`] = rps / nats;
        lines.push(
          `| ${scenario} | ${inFlight} | ${fmt(rps)} | ${fmt(rps / nats, 2)} | ${ms(median(samples.map((s) => s.p50Ms)))} | ${ms(median(samples.map((s) => s.p99Ms)))} | ${samples.reduce((n, s) => n + s.errors, 0)} | ${medianUsage(samples)} |`,
        );
      }
    }
  }
  for (const row of idle) {
    summary['idle KiB per connection'] = row.kibPerConnection;
    lines.push('', '## Idle uplink connections', '');
    lines.push('| connections | server RSS before | server RSS after | KiB per connection |');
    lines.push('|---|---|---|---|');
    lines.push(
      `| ${row.connections} | ${fmt(row.rssBeforeMiB, 1)} MiB | ${fmt(row.rssAfterMiB, 1)} MiB | ${fmt(row.kibPerConnection, 1)} |`,
    );
  }
  return { markdown: lines.join('\n'), summary };
}
