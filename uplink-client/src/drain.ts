import { performance } from 'node:perf_hooks';
import { SwitchboardError } from '@switchboard/shared';

/** Why the uplink is draining: it asked (`drain()`), or the server's operator drained it. */
export type DrainReason = 'requested' | 'admin';

/** How often a drain looks whether everything in flight has finished. */
const IDLE_CHECK_INTERVAL_MS = 10;

/** What a drain needs from the uplink it belongs to. */
export interface DrainHost {
  /** Nothing in flight either way: no call to run or answer, no stream open. */
  isIdle(): boolean;
  /** Ends the uplink for good; `cutOff` when the deadline passed with work left. */
  end(drain: Drain, cutOff: SwitchboardError | undefined): void;
}

/**
 * One drain of an uplink, from `drain()` (or the server's `draining`) to the close: it waits for
 * the server's `draining` (after which no new call can arrive), then for the calls in flight,
 * and ends the uplink when they are done or when `timeoutMs` has passed.
 */
export class Drain {
  /** The server's `draining` arrived: nothing new will be sent to this uplink. */
  private acknowledged = false;
  private ended = false;
  private deadline: NodeJS.Timeout;
  private readonly startedAt = performance.now();
  private idleCheck: NodeJS.Timeout | undefined;
  private settle: { resolve: () => void; reject: (error: SwitchboardError) => void } | undefined;
  /** Settles when the uplink has closed: resolved if every call finished, else rejected. */
  readonly done: Promise<void>;

  constructor(
    readonly reason: DrainReason,
    readonly timeoutMs: number,
    private readonly host: DrainHost,
  ) {
    this.done = new Promise((resolve, reject) => (this.settle = { resolve, reject }));
    // A drain the server started has nobody awaiting it: its outcome is reported as a status.
    if (reason === 'admin') this.done.catch(() => undefined);
    this.deadline = this.cutOffAfter(timeoutMs);
  }

  private cutOffAfter(ms: number): NodeJS.Timeout {
    return setTimeout(() => {
      const elapsed = Math.round(performance.now() - this.startedAt);
      this.finish(
        new SwitchboardError(
          'SB_ERR_DRAIN_TIMEOUT',
          `Calls were still running ${elapsed} ms after the drain began`,
        ),
      );
    }, ms);
  }

  /** The server's deadline (`draining.timeoutMs`), when sooner than this drain's own, is kept. */
  bringForward(timeoutMs: number): void {
    const remaining = this.timeoutMs - (performance.now() - this.startedAt);
    if (this.ended || timeoutMs >= remaining) return;
    clearTimeout(this.deadline);
    this.deadline = this.cutOffAfter(timeoutMs);
  }

  /**
   * The server's `draining` arrived. Completion is then checked on a short interval rather than
   * at each of the many places a call, an answer or a stream can finish.
   */
  acknowledge(): void {
    if (this.acknowledged || this.ended) return;
    this.acknowledged = true;
    this.idleCheck = setInterval(() => {
      if (this.host.isIdle()) this.finish(undefined);
    }, IDLE_CHECK_INTERVAL_MS);
    if (this.host.isIdle()) this.finish(undefined);
  }

  /** Ends the drain once: `cutOff` when calls were left (deadline, lost connection). */
  finish(cutOff: SwitchboardError | undefined): void {
    if (this.ended) return;
    this.ended = true;
    clearTimeout(this.deadline);
    clearInterval(this.idleCheck);
    this.host.end(this, cutOff);
    if (cutOff === undefined) this.settle?.resolve();
    else this.settle?.reject(cutOff);
  }

  get isEnded(): boolean {
    return this.ended;
  }
}
