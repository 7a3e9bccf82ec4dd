import type { RelayedTasks } from '../tasks/relayed-tasks.ts';
import type { TaskLimits } from '../tasks/tasks.ts';

/**
 * Largest task result kept in a cluster: the record crosses the shared-state bucket as JSON
 * (bytes in base64) and must stay under NATS's 1 MiB message size with its args and state.
 */
export const CLUSTER_MAX_TASK_RESULT_BYTES = 512 * 1024;

/** The task limits of a clustered server: a result at most CLUSTER_MAX_TASK_RESULT_BYTES. */
export function clusterTaskLimits(limits: TaskLimits): TaskLimits {
  const maxTaskResultBytes = Math.min(limits.maxTaskResultBytes, CLUSTER_MAX_TASK_RESULT_BYTES);
  return { ...limits, maxTaskResultBytes };
}

/**
 * How long after a server leaves its unfinished tasks are marked interrupted: its own last
 * writes (a graceful leave ends its tasks itself) may still be on their way through NATS.
 */
export const DEPARTED_SWEEP_DELAY_MS = 1_000;

/** What the cluster needs of this server's background tasks (docs/cluster.md, "Tasks"). */
export interface ClusterTasks {
  /** Tasks of other servers whose calls run here: their state goes back to their server. */
  readonly relayed: RelayedTasks;
  /** The servers that own unfinished tasks in the store. */
  ownersOfUnfinished(): string[];
  /** Ends `node`'s unfinished tasks as failed SB_ERR_TASK_INTERRUPTED; returns how many. */
  interrupt(node: string): number;
}

/**
 * After a server left: the unfinished tasks of every server no longer in the cluster can never
 * end, so they end as interrupted. Only one server does it, the first by name of those alive
 * (every server computes the same); a second one doing it changes nothing (only unfinished rows
 * change, and every server writes the same ending). Returns the servers whose tasks ended.
 */
export function interruptDeparted(
  self: string,
  peers: readonly string[],
  tasks: ClusterTasks,
): string[] {
  const alive = new Set([self, ...peers]);
  if ([...alive].sort()[0] !== self) return [];
  const gone = tasks.ownersOfUnfinished().filter((node) => !alive.has(node));
  return gone.filter((node) => tasks.interrupt(node) > 0);
}
