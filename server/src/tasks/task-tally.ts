import type { TaskStatus } from './task-types.ts';

type Ending = Exclude<TaskStatus, 'queued' | 'running'>;

/** Tasks ended on this server since it started, per status, and their run time (metrics). */
export class TaskTally {
  readonly counts: Record<Ending, number> = { completed: 0, failed: 0, killed: 0 };
  readonly seconds: Record<Ending, number> = { completed: 0, failed: 0, killed: 0 };

  ended(status: Ending, durationMs: number): void {
    this.counts[status]++;
    this.seconds[status] += durationMs / 1000;
  }
}
