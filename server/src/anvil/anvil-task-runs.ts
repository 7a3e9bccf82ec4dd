import type { FastifyBaseLogger } from 'fastify';
import { toSwitchboardError } from '@switchboard/shared';
import type { TaskTag } from '../hub/provider.ts';

/** How often a running task's `anvil.server.task_state` is asked for (GET_TASK_STATE). */
export const TASK_STATE_POLL_MS = 1000;
/** Prefix of the state queries' ids, as Anvil's server names them. */
const QUERY_PREFIX = 'bgquery-';

/** What the task runs on an Anvil uplink need of its connection. */
export interface TaskRunsLink {
  readonly idPrefix: string;
  post(message: Record<string, unknown>): void;
  readonly log: FastifyBaseLogger;
}

interface Run {
  readonly tag: TaskTag;
  readonly timer: NodeJS.Timeout;
  /** The state query sent and not answered yet (one at a time per task). */
  query: string | undefined;
}

/**
 * The background tasks one Anvil uplink runs for this server (each a LAUNCH_BACKGROUND it was
 * sent, by its wire id): their `anvil.server.task_state` asked for every second with
 * GET_TASK_STATE and handed to the task's `setState`, the last one taken from the final reply;
 * KILL_TASK sent when a task is killed (Anvil's library only logs that it cannot kill).
 */
export class AnvilTaskRuns {
  private readonly runs = new Map<string, Run>();
  /** Query id → the launch it asks about. */
  private readonly queries = new Map<string, string>();
  private nextQuery = 0;

  constructor(private readonly link: TaskRunsLink) {}

  /** LAUNCH_BACKGROUND `wireId` was sent for `tag`: polls its state until it ends. */
  started(wireId: string, tag: TaskTag): void {
    const timer = setInterval(() => this.poll(wireId), TASK_STATE_POLL_MS);
    timer.unref();
    this.runs.set(wireId, { tag, timer, query: undefined });
  }

  private poll(wireId: string): void {
    const run = this.runs.get(wireId);
    if (run === undefined || run.query !== undefined) return;
    const id = `${QUERY_PREFIX}${this.link.idPrefix}-${++this.nextQuery}`;
    run.query = id;
    this.queries.set(id, wireId);
    this.link.post({ type: 'GET_TASK_STATE', id, task: wireId });
  }

  /**
   * A reply with this id: true if it answers a state query (then it is handled here). An error
   * (`anvil.server.NotRunningTask`, the task has just ended) changes nothing.
   */
  answered(id: string, ok: boolean, value: unknown): boolean {
    if (!id.startsWith(QUERY_PREFIX)) return false;
    const wireId = this.queries.get(id);
    if (wireId === undefined) return true;
    this.queries.delete(id);
    const run = this.runs.get(wireId);
    if (run === undefined) return true;
    run.query = undefined;
    if (ok) this.setState(run.tag, value);
    return true;
  }

  /** Task `wireId` ended (answered, timed out, killed or lost): no more polls. */
  ended(wireId: string, finalState?: unknown): void {
    const run = this.runs.get(wireId);
    if (run === undefined) return;
    this.stop(wireId, run);
    if (finalState !== undefined) this.setState(run.tag, finalState);
  }

  /** Tells the uplink to kill task `wireId` (its library logs that it cannot) and stops polling. */
  kill(wireId: string): void {
    this.ended(wireId);
    this.link.post({ type: 'KILL_TASK', task: wireId });
  }

  /** The connection is gone. */
  stopAll(): void {
    for (const [wireId, run] of [...this.runs]) this.stop(wireId, run);
  }

  private stop(wireId: string, run: Run): void {
    clearInterval(run.timer);
    if (run.query !== undefined) this.queries.delete(run.query);
    this.runs.delete(wireId);
  }

  private setState(tag: TaskTag, value: unknown): void {
    tag.setState(value).catch((error: unknown) => {
      const coded = toSwitchboardError(error);
      this.link.log.warn(
        { task: tag.id, code: coded.code, reason: coded.message },
        'anvil task state dropped',
      );
    });
  }
}
