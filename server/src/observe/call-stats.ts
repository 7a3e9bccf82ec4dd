import { performance } from 'node:perf_hooks';
import type { SwitchboardError } from '@switchboard/shared';
import type { FastifyBaseLogger } from 'fastify';
import type { CallRequest, CallSink } from '../hub/provider.ts';
import {
  CallTally,
  emptySnapshot,
  type LastError,
  type StatsSnapshot,
  type TallyKind,
} from './call-tally.ts';

export type { LastError, StatsSnapshot } from './call-tally.ts';

/** One of the recent errors, with what it happened to. */
export type RecentError = LastError & {
  function?: string;
  endpoint?: string;
  providerId?: string;
  /** The request id the call carried (the HTTP request's, or one an uplink passed on). */
  requestId?: string;
};

/** How many errors `recentErrors()` remembers. */
export const RECENT_ERRORS = 100;
/**
 * Most names tracked per kind: names are registered ones only, but providers come and go with
 * every reconnect; past the cap the longest idle tally is dropped.
 */
const MAX_TALLIES: Readonly<Record<TallyKind, number>> = {
  function: 2000,
  endpoint: 2000,
  provider: 500,
};

/**
 * Call statistics per function, endpoint and provider (count, errors, in flight, last error,
 * average and p99 latency), fed by a sink wrapped around every call the server routes. Memory
 * is bounded: a fixed latency window per tally, a cap on tallies, a ring of recent errors.
 */
export class CallStats {
  /** Calls in flight across all functions and endpoints. */
  inFlight = 0;
  /** Calls refused before reaching any provider (unknown function, not allowed), by code. */
  readonly refused = new Map<string, number>();
  private readonly tallies: Record<TallyKind, Map<string, CallTally>> = {
    function: new Map(),
    endpoint: new Map(),
    provider: new Map(),
  };
  private readonly recent: RecentError[] = [];
  private recentNext = 0;

  constructor(private readonly log?: FastifyBaseLogger) {}

  forFunction(name: string): StatsSnapshot {
    return this.tallies.function.get(name)?.snapshot() ?? emptySnapshot();
  }

  /** `path` is the endpoint's registered pattern, e.g. `/users/:id`. */
  forEndpoint(path: string): StatsSnapshot {
    return this.tallies.endpoint.get(path)?.snapshot() ?? emptySnapshot();
  }

  /** An uplink connection's `providerId`, or `app` for the server's own functions and endpoints. */
  forProvider(providerId: string): StatsSnapshot {
    return this.tallies.provider.get(providerId)?.snapshot() ?? emptySnapshot();
  }

  /** The most recent errors, newest first (at most RECENT_ERRORS). */
  recentErrors(limit = RECENT_ERRORS): RecentError[] {
    const count = Math.max(0, Math.min(Math.floor(limit), this.recent.length));
    const newestFirst: RecentError[] = [];
    for (let back = 1; back <= count; back++) {
      const index = (this.recentNext - back + this.recent.length) % this.recent.length;
      newestFirst.push(this.recent[index]!);
    }
    return newestFirst;
  }

  /** The tallies of one kind, for exporters (metrics). */
  talliesOf(kind: TallyKind): IterableIterator<CallTally> {
    return this.tallies[kind].values();
  }

  /**
   * Starts counting `request` on `providerId` (a function call, or an endpoint request when it
   * carries `http`); returns the sink to hand the provider in place of `sink`.
   */
  track(request: CallRequest, providerId: string, sink: CallSink): CallSink {
    const now = performance.now();
    const subject = this.tally(request.http === undefined ? 'function' : 'endpoint', request.name);
    const provider = this.tally('provider', providerId);
    subject.started(now);
    provider.started(now);
    this.inFlight++;
    const call = new TrackedCall(this, sink, subject, provider);
    call.startedAt = now;
    call.requestId = request.requestId;
    return call;
  }

  /** A call refused before it reached a provider (not counted against any name). */
  refuse(code: string): void {
    this.refused.set(code, (this.refused.get(code) ?? 0) + 1);
  }

  /** Called once per tracked call when its provider settles it. */
  settled(call: TrackedCall, error: SwitchboardError | undefined): void {
    const now = performance.now();
    const ms = now - call.startedAt;
    const { subject, provider } = call;
    subject.finished(ms, now, error);
    provider.finished(ms, now, error);
    this.inFlight--;
    if (error === undefined) return;
    const last: LastError = {
      code: error.code,
      message: error.message,
      at: new Date().toISOString(),
    };
    subject.lastError = last;
    provider.lastError = last;
    const entry: RecentError = { ...last, providerId: provider.key };
    if (subject.kind === 'function') entry.function = subject.key;
    else entry.endpoint = subject.key;
    if (call.requestId !== undefined) entry.requestId = call.requestId;
    if (this.recent.length < RECENT_ERRORS) this.recent.push(entry);
    else this.recent[this.recentNext] = entry;
    this.recentNext = (this.recentNext + 1) % RECENT_ERRORS;
    this.logFailure(entry);
  }

  private logFailure(entry: RecentError): void {
    const { log } = this;
    if (log === undefined) return;
    const fields = {
      reqId: entry.requestId,
      function: entry.function,
      endpoint: entry.endpoint,
      uplink: entry.providerId,
      code: entry.code,
      reason: entry.message,
    };
    // A caller that went away is routine; everything else is worth an operator's eye.
    if (entry.code === 'SB_ERR_CALL_CANCELLED') log.debug(fields, 'call cancelled');
    else log.warn(fields, 'call failed');
  }

  private tally(kind: TallyKind, key: string): CallTally {
    const tallies = this.tallies[kind];
    let tally = tallies.get(key);
    if (tally === undefined) {
      if (tallies.size >= MAX_TALLIES[kind]) evictIdlest(tallies);
      tally = new CallTally(kind, key);
      tallies.set(key, tally);
    }
    return tally;
  }
}

/** Drops the tally idle the longest, preferring one with nothing in flight (rare: past the cap). */
function evictIdlest(tallies: Map<string, CallTally>): void {
  let victim: CallTally | undefined;
  for (const tally of tallies.values()) {
    if (
      victim === undefined ||
      (tally.inFlight === 0 && victim.inFlight > 0) ||
      ((tally.inFlight === 0) === (victim.inFlight === 0) &&
        tally.lastActiveAt < victim.lastActiveAt)
    )
      victim = tally;
  }
  // A call still in flight on it settles into the orphaned tally: harmless.
  if (victim !== undefined) tallies.delete(victim.key);
}

/** The sink a provider settles; counts the outcome, then passes it on. */
class TrackedCall implements CallSink {
  startedAt = 0;
  requestId: string | undefined;
  private done = false;

  constructor(
    private readonly stats: CallStats,
    private readonly inner: CallSink,
    readonly subject: CallTally,
    readonly provider: CallTally,
  ) {}

  resolve(value: unknown): void {
    if (!this.done) {
      this.done = true;
      this.stats.settled(this, undefined);
    }
    this.inner.resolve(value);
  }

  reject(error: SwitchboardError): void {
    if (!this.done) {
      this.done = true;
      this.stats.settled(this, error);
    }
    this.inner.reject(error);
  }
}
