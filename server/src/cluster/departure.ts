import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { HEARTBEAT_MS } from './cluster.ts';

/** What leaving needs of the cluster. */
export interface Departing {
  /** Other servers alive now. */
  peers(): string[];
  /** Announces an empty catalog; returns its version. */
  withdrawCatalog(): number;
  /** Other servers that have not fetched catalog `version` yet. */
  behind(version: number): string[];
  /** Calls of other servers being served here now. */
  readonly serving: number;
}

/**
 * How long an uplink told `goaway` gets to move to another server of the cluster (connect,
 * register there, drain itself here) before an idle one counts as staying: it is then closed
 * like on a single server (1001), and reconnects. Capped by the grace period.
 */
export const MOVE_WINDOW_MS = 5_000;
/** Longest wait for the others to stop sending calls here, after the uplinks have gone. */
export const LEAVE_MAX_MS = 3_000;
const CHECK_MS = 20;

/**
 * The last step of a shutdown in a cluster, before the `leaving` heartbeat: the others are told
 * we serve nothing (an empty catalog), we wait until each of them has fetched it, then one
 * heartbeat more for calls they sent just before (they cross NATS), and until the calls of
 * theirs we are serving have finished. A call that arrives meanwhile for something no longer
 * served here is answered SB_ERR_NOT_SERVED_HERE, which the sender retries elsewhere; so no call
 * is lost in flight when we finally leave. Takes at most `budgetMs` (and LEAVE_MAX_MS).
 */
export async function leaveCluster(cluster: Departing, budgetMs: number): Promise<void> {
  if (cluster.peers().length === 0 || budgetMs <= 0) return;
  const until = performance.now() + Math.min(LEAVE_MAX_MS, budgetMs);
  const version = cluster.withdrawCatalog();
  while (cluster.behind(version).length > 0 && performance.now() < until) await sleep(CHECK_MS);
  await sleep(Math.max(0, Math.min(HEARTBEAT_MS, until - performance.now())));
  while (cluster.serving > 0 && performance.now() < until) await sleep(CHECK_MS);
}
