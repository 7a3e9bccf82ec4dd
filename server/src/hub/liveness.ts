import { performance } from 'node:perf_hooks';

/** How often the hub looks at every connection's liveness (at most). */
export const LIVENESS_SWEEP_MS = 500;
/** A connection with calls in flight that has been silent this long is pinged. */
export const BUSY_PING_MS = 500;

export interface LivenessLimits {
  /** An idle connection silent this long is pinged. */
  readonly pingIntervalMs: number;
  /** A ping unanswered this long takes the connection out of rotation. */
  readonly pongTimeoutMs: number;
  /** A ping unanswered this long closes the connection. */
  readonly unresponsiveTimeoutMs: number;
}

/** What the sweep does with a connection now. */
export type LivenessAction = 'none' | 'ping' | 'suspect' | 'drop';

/** The sweep's period for these limits: fine enough to act within a fraction of the timeouts. */
export function sweepIntervalMs(limits: LivenessLimits): number {
  return Math.max(
    10,
    Math.floor(Math.min(LIVENESS_SWEEP_MS, limits.pingIntervalMs, limits.pongTimeoutMs / 2)),
  );
}

/**
 * One connection's liveness: when it was last heard from and whether a ping is unanswered.
 * Anything that arrives (a message, a pong) proves the peer's event loop runs. A busy peer is
 * pinged as soon as it has been quiet for BUSY_PING_MS, so a frozen one (SIGSTOP, a blocked
 * event loop, a dead machine) leaves rotation within about `pongTimeoutMs` and is closed within
 * about `unresponsiveTimeoutMs` of freezing, instead of holding its calls until their deadlines.
 */
export class Liveness {
  /** Monotonic time of the last message or pong. */
  lastSeenAt = performance.now();
  /** Out of rotation: a ping has gone unanswered for `pongTimeoutMs`. */
  unresponsive = false;
  private pingSentAt: number | undefined;

  /** The peer was heard from. Returns true when this brings it back into rotation. */
  heard(now: number = performance.now()): boolean {
    this.lastSeenAt = now;
    this.pingSentAt = undefined;
    if (!this.unresponsive) return false;
    this.unresponsive = false;
    return true;
  }

  /** Decides the next step; `busy` when calls to the peer are waiting for answers. */
  check(now: number, busy: boolean, limits: LivenessLimits): LivenessAction {
    if (this.pingSentAt !== undefined) {
      const waitedMs = now - this.pingSentAt;
      if (waitedMs >= limits.unresponsiveTimeoutMs) return 'drop';
      if (waitedMs >= limits.pongTimeoutMs && !this.unresponsive) {
        this.unresponsive = true;
        return 'suspect';
      }
      return 'none';
    }
    const silentMs = now - this.lastSeenAt;
    if (silentMs >= limits.pingIntervalMs || (busy && silentMs >= BUSY_PING_MS)) {
      this.pingSentAt = now;
      return 'ping';
    }
    return 'none';
  }
}
