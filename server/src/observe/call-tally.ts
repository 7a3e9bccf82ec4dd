import type { SwitchboardError } from '@switchboard/shared';

/** The last error of a function, endpoint or provider. */
export interface LastError {
  code: string;
  message: string;
  /** When it happened (ISO 8601). */
  at: string;
}

/** Live statistics of one function, endpoint or provider. */
export interface StatsSnapshot {
  /** Finished calls (ok + error). */
  count: number;
  /** Calls that finished with an error. */
  errors: number;
  inFlight: number;
  lastError: LastError | null;
  /** Mean latency of finished calls in ms; null if none. */
  avgMs: number | null;
  /** p99 latency in ms over the last LATENCY_WINDOW finished calls; null if none. */
  p99Ms: number | null;
}

/** What a tally counts: the three views of the same calls. */
export type TallyKind = 'function' | 'endpoint' | 'provider';

/** Finished calls whose latencies the p99 is computed over (a ring buffer, bounded memory). */
export const LATENCY_WINDOW = 1024;

/**
 * Upper bounds (ms) of the latency histogram's buckets; exported to Prometheus in seconds.
 * A last, implicit bucket holds everything above.
 */
export const LATENCY_BUCKETS_MS: readonly number[] = [
  1, 2.5, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10_000, 30_000, 60_000,
];

/**
 * Running counters of one function, endpoint or provider. Updated on every call's settlement
 * (no timers, no allocation but the error record); snapshots do the sorting.
 */
export class CallTally {
  count = 0;
  errors = 0;
  /** Of the errors: deadlines that passed, and calls withdrawn by their caller. */
  timeouts = 0;
  cancelled = 0;
  inFlight = 0;
  /** Sum of the latencies of finished calls. */
  totalMs = 0;
  lastError: LastError | null = null;
  /** Monotonic time of the last start or finish (eviction prefers the longest idle). */
  lastActiveAt = 0;
  /** Calls per histogram bucket (LATENCY_BUCKETS_MS, then one above); functions only. */
  readonly buckets: number[] | undefined;
  private readonly window: number[] = [];
  private next = 0;

  constructor(
    readonly kind: TallyKind,
    readonly key: string,
  ) {
    this.buckets =
      kind === 'function' ? new Array<number>(LATENCY_BUCKETS_MS.length + 1).fill(0) : undefined;
  }

  started(now: number): void {
    this.inFlight++;
    this.lastActiveAt = now;
  }

  finished(ms: number, now: number, error: SwitchboardError | undefined): void {
    this.inFlight--;
    this.count++;
    this.totalMs += ms;
    this.lastActiveAt = now;
    if (this.window.length < LATENCY_WINDOW) this.window.push(ms);
    else {
      this.window[this.next] = ms;
      this.next = (this.next + 1) % LATENCY_WINDOW;
    }
    const { buckets } = this;
    if (buckets !== undefined) {
      let bucket = 0;
      while (bucket < LATENCY_BUCKETS_MS.length && ms > LATENCY_BUCKETS_MS[bucket]!) bucket++;
      buckets[bucket]!++;
    }
    if (error !== undefined) {
      this.errors++;
      if (error.code === 'SB_ERR_CALL_TIMEOUT') this.timeouts++;
      else if (error.code === 'SB_ERR_CALL_CANCELLED') this.cancelled++;
    }
  }

  snapshot(): StatsSnapshot {
    return {
      count: this.count,
      errors: this.errors,
      inFlight: this.inFlight,
      lastError: this.lastError,
      avgMs: this.count === 0 ? null : this.totalMs / this.count,
      p99Ms: percentile(this.window, 0.99),
    };
  }
}

/** Nearest-rank percentile; null for no samples. */
export function percentile(samples: readonly number[], fraction: number): number | null {
  if (samples.length === 0) return null;
  const sorted = Float64Array.from(samples).sort();
  const rank = Math.ceil(fraction * sorted.length);
  return sorted[Math.min(sorted.length, Math.max(1, rank)) - 1]!;
}

/** An empty snapshot, for a name nothing was counted under (yet). */
export function emptySnapshot(): StatsSnapshot {
  return { count: 0, errors: 0, inFlight: 0, lastError: null, avgMs: null, p99Ms: null };
}
