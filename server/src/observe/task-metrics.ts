import { Gauge, type Registry } from 'prom-client';
import { TASK_STATUSES, type TaskStatus } from '../tasks/task-types.ts';
import type { TaskTally } from '../tasks/task-tally.ts';

/** What the task metrics read, when scraped. */
export interface TaskFigures {
  /** Recorded tasks per status (the store: every server of a cluster). */
  counts(): Map<TaskStatus, number>;
  /** Tasks this server runs now. */
  readonly running: number;
  /** Tasks ended on this server since it started, and their run time. */
  readonly tally: TaskTally;
}

const DURATION_METRIC = 'switchboard_task_duration_seconds';

/** `switchboard_tasks{status}` and `switchboard_tasks_running`, on `registry`. */
export function registerTaskGauges(registry: Registry, tasks: () => TaskFigures): void {
  const registers = [registry];
  new Gauge({
    name: 'switchboard_tasks',
    help: 'Background tasks on record, by status (queued, running, completed, failed, killed)',
    labelNames: ['status'],
    registers,
    collect() {
      const counts = tasks().counts();
      for (const status of TASK_STATUSES) this.set({ status }, counts.get(status) ?? 0);
    },
  });
  new Gauge({
    name: 'switchboard_tasks_running',
    help: 'Background tasks this server runs now',
    registers,
    collect() {
      this.set(tasks().running);
    },
  });
}

/**
 * The run time of tasks ended on this server since it started, by how they ended, as a summary
 * without quantiles (`_sum` and `_count`), written from the tally as the call histogram is.
 */
export function taskDurationText(tally: TaskTally): string {
  const lines = [
    `# HELP ${DURATION_METRIC} Run time of background tasks ended on this server since it started, by status`,
    `# TYPE ${DURATION_METRIC} summary`,
  ];
  for (const status of ['completed', 'failed', 'killed'] as const) {
    lines.push(`${DURATION_METRIC}_sum{status="${status}"} ${tally.seconds[status]}`);
    lines.push(`${DURATION_METRIC}_count{status="${status}"} ${tally.counts[status]}`);
  }
  return `${lines.join('\n')}\n`;
}
