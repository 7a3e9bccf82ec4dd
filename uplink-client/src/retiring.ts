import { performance } from 'node:perf_hooks';
import { CLOSE_CODES, SwitchboardError, closeReason } from '@switchboard/shared';
import { Drain } from './drain.ts';
import type { Session } from './session.ts';

/**
 * A session whose server said `goaway`, while the uplink moves to another server: it keeps
 * serving what the old server sends until the new session has registered (`handOver`); then
 * it asks the old server to drain it (`drain`), finishes what is in flight once `draining` has
 * come, and closes with 4003. If the old server closes first (its grace period ended), what was
 * in flight on it is lost as with any dropped connection.
 */
export class Retiring {
  private readonly until: number;
  private drain: Drain | undefined;

  constructor(
    readonly session: Session,
    graceMs: number,
  ) {
    this.until = performance.now() + graceMs;
  }

  /** The new session has registered: the old server may stop sending us calls. */
  handOver(): void {
    if (this.drain !== undefined || this.session.welcome === undefined) return;
    const timeoutMs = Math.max(1, Math.ceil(this.until - performance.now()));
    this.drain = new Drain('requested', timeoutMs, {
      isIdle: () => this.session.isIdle(),
      end: (_drain, cutOff) => this.close(cutOff),
    });
    this.drain.done.catch(() => undefined); // the outcome is the calls' own
    this.session.send({ type: 'drain', timeoutMs });
  }

  /** The old server's `draining`: nothing new comes; close once idle. */
  drained(): void {
    this.drain?.acknowledge();
  }

  /** Its connection ended (closed by us, or by the old server). */
  ended(): void {
    this.drain?.finish(undefined);
  }

  private close(cutOff: SwitchboardError | undefined): void {
    if (cutOff !== undefined) this.session.cutOff(cutOff);
    const told = cutOff ?? new SwitchboardError('SB_ERR_UPLINK_DRAINED', 'moved to another server');
    this.session.connection?.close(CLOSE_CODES.DRAINED, closeReason(told.code, told.message));
  }
}
