import { Counter, Gauge, Registry, collectDefaultMetrics } from 'prom-client';
import type { CallStats } from './call-stats.ts';
import { LATENCY_BUCKETS_MS, type CallTally } from './call-tally.ts';
import type { HttpTally } from './http-tally.ts';
import { registerTaskGauges, taskDurationText, type TaskFigures } from './task-metrics.ts';
import type { UplinkTraffic } from './uplink-traffic.ts';

/** Where the figures come from: all of them are kept by the call and HTTP paths anyway. */
export interface MetricsSources {
  readonly stats: CallStats;
  readonly http: HttpTally;
  readonly traffic: UplinkTraffic;
  /** Live, authenticated uplink connections. */
  uplinks(): number;
  /** Background tasks (read when scraped: the tasks may be made after the metrics). */
  tasks(): TaskFigures;
}

/** Outcomes a finished call is counted under (bounded label values). */
export const CALL_OUTCOMES = ['ok', 'error', 'timeout', 'cancelled'] as const;

const LATENCY_METRIC = 'switchboard_call_duration_seconds';

/**
 * The Prometheus view of one server: a registry of its own (several servers may share a
 * process), built on the first scrape so a server nobody scrapes pays nothing, with Node's
 * default process metrics and Switchboard's. Every Switchboard figure is read from the
 * counters the call path keeps anyway (CallStats, HttpTally, UplinkTraffic) when scraped:
 * nothing is observed per call.
 */
export class Metrics {
  readonly contentType = Registry.PROMETHEUS_CONTENT_TYPE;
  private registry: Registry | undefined;

  constructor(private readonly sources: MetricsSources) {}

  /** The exposition text (format 0.0.4). */
  async render(): Promise<string> {
    this.registry ??= this.build();
    const text = await this.registry.metrics();
    const latency = latencyHistogram(this.sources.stats.talliesOf('function'));
    return `${text}\n${latency}${taskDurationText(this.sources.tasks().tally)}`;
  }

  private build(): Registry {
    const registry = new Registry();
    collectDefaultMetrics({ register: registry });
    const { stats, http, traffic } = this.sources;
    const registers = [registry];
    const uplinks = () => this.sources.uplinks();
    new Counter({
      name: 'switchboard_calls_total',
      help: 'Function calls that reached a provider and finished, by function and outcome (ok, error, timeout, cancelled)',
      labelNames: ['function', 'outcome'],
      registers,
      collect() {
        this.reset();
        for (const tally of stats.talliesOf('function')) {
          const outcomes = outcomeCounts(tally);
          for (const outcome of CALL_OUTCOMES)
            this.inc({ function: tally.key, outcome }, outcomes[outcome]);
        }
      },
    });
    new Counter({
      name: 'switchboard_calls_refused_total',
      help: 'Calls refused before reaching a provider (unknown function, not allowed), by error code',
      labelNames: ['code'],
      registers,
      collect() {
        this.reset();
        for (const [code, count] of stats.refused) this.inc({ code }, count);
      },
    });
    new Counter({
      name: 'switchboard_http_requests_total',
      help: 'HTTP responses by route pattern (endpoints as /_/api + their registered pattern) and status',
      labelNames: ['route', 'status'],
      registers,
      collect() {
        this.reset();
        for (const [route, status, count] of http.entries('/_/api'))
          this.inc({ route, status: String(status) }, count);
      },
    });
    new Gauge({
      name: 'switchboard_uplinks_connected',
      help: 'Uplinks connected and authenticated',
      registers,
      collect() {
        this.set(uplinks());
      },
    });
    new Gauge({
      name: 'switchboard_calls_in_flight',
      help: 'Function calls and endpoint requests started and not yet answered',
      registers,
      collect() {
        this.set(stats.inFlight);
      },
    });
    new Counter({
      name: 'switchboard_uplink_received_bytes_total',
      help: 'Bytes of WebSocket messages received from uplinks',
      registers,
      collect() {
        this.reset();
        this.inc(traffic.bytesIn);
      },
    });
    new Counter({
      name: 'switchboard_uplink_sent_bytes_total',
      help: 'Bytes of WebSocket messages sent to uplinks',
      registers,
      collect() {
        this.reset();
        this.inc(traffic.bytesOut);
      },
    });
    registerTaskGauges(registry, () => this.sources.tasks());
    return registry;
  }
}

function outcomeCounts(tally: CallTally): Record<(typeof CALL_OUTCOMES)[number], number> {
  return {
    ok: tally.count - tally.errors,
    error: tally.errors - tally.timeouts - tally.cancelled,
    timeout: tally.timeouts,
    cancelled: tally.cancelled,
  };
}

/**
 * The call latency histogram by function, written from each tally's bucket counts (prom-client
 * has no way to load a histogram's buckets other than observing every call, which would cost a
 * label hash per call on the hot path).
 */
function latencyHistogram(tallies: Iterable<CallTally>): string {
  const lines = [
    `# HELP ${LATENCY_METRIC} Latency of finished function calls (time to the answer), by function`,
    `# TYPE ${LATENCY_METRIC} histogram`,
  ];
  for (const tally of tallies) {
    const { buckets } = tally;
    if (buckets === undefined) continue;
    const fn = `function="${escapeLabel(tally.key)}"`;
    let cumulative = 0;
    LATENCY_BUCKETS_MS.forEach((boundMs, index) => {
      cumulative += buckets[index]!;
      lines.push(`${LATENCY_METRIC}_bucket{${fn},le="${boundMs / 1000}"} ${cumulative}`);
    });
    lines.push(`${LATENCY_METRIC}_bucket{${fn},le="+Inf"} ${tally.count}`);
    lines.push(`${LATENCY_METRIC}_sum{${fn}} ${tally.totalMs / 1000}`);
    lines.push(`${LATENCY_METRIC}_count{${fn}} ${tally.count}`);
  }
  return `${lines.join('\n')}\n`;
}

function escapeLabel(value: string): string {
  return value.replace(/\\/g, '\\\\').replace(/\n/g, '\\n').replace(/"/g, '\\"');
}
