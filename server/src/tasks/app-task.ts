import {
  isFinishedStatus,
  taskOutcome,
  type CallerInfo,
  type Task,
  type TaskInfo,
  type TaskStatus,
} from '@switchboard/shared';
import type { Tasks } from './tasks.ts';

/** How long one wait of `result()` lasts before it waits again (no timer is kept longer). */
const RESULT_WAIT_MS = 60_000;

/** A task as app code holds it (`switchboard.launch()`): read live from this server. */
export class AppTask<T = unknown> implements Task<T> {
  constructor(
    private readonly tasks: Tasks,
    readonly id: string,
    private readonly caller: CallerInfo,
  ) {}

  get status(): TaskStatus {
    return this.tasks.get(this.id, this.caller).status;
  }

  info(): Promise<TaskInfo> {
    return Promise.resolve().then(() => this.tasks.get(this.id, this.caller));
  }

  async state(): Promise<unknown> {
    return (await this.info()).state;
  }

  async result(): Promise<T> {
    let info = await this.info();
    while (!isFinishedStatus(info.status))
      info = await this.tasks.wait(this.id, this.caller, RESULT_WAIT_MS);
    return taskOutcome(info) as T;
  }

  kill(): Promise<void> {
    return Promise.resolve().then(() => {
      this.tasks.kill(this.id, this.caller);
    });
  }
}
