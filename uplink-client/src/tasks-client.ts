import {
  SwitchboardError,
  TASK_FUNCTIONS,
  isFinishedStatus,
  isTaskId,
  taskOutcome,
  type Task,
  type TaskInfo,
  type TaskLaunchOptions,
  type TaskStatus,
} from '@switchboard/shared';
import type { CallOptions } from './outgoing-calls.ts';

/** How long one `sb.tasks.wait` lasts (result() waits again until the end). */
const WAIT_MS = 25_000;
/** Deadline of that call: the wait and a margin. */
const WAIT_CALL_TIMEOUT_MS = WAIT_MS + 10_000;

/** What tasks need from an uplink: calls with options. */
export interface TaskCaller {
  callWithOptions(name: string, args: unknown[], options?: CallOptions): Promise<unknown>;
}

/** Launches background tasks and hands out Task objects, through the `sb.tasks.*` built-ins. */
export class TasksClient {
  constructor(private readonly uplink: TaskCaller) {}

  /** Launches `name` as a background task on the server (docs/tasks.md). */
  async launch(name: string, args: unknown[], options: TaskLaunchOptions = {}): Promise<Task> {
    const launchOptions = options.timeoutMs === undefined ? {} : { timeoutMs: options.timeoutMs };
    const info = (await this.uplink.callWithOptions(TASK_FUNCTIONS.launch, [
      name,
      args,
      launchOptions,
    ])) as TaskInfo;
    return new UplinkTask(this.uplink, info);
  }

  /** A task by id, as this uplink's key may see it (SB_ERR_NO_SUCH_TASK otherwise). */
  async task(id: string): Promise<Task> {
    if (!isTaskId(id))
      throw new SwitchboardError('SB_ERR_NO_SUCH_TASK', `No task with id ${String(id)}`);
    const info = (await this.uplink.callWithOptions(TASK_FUNCTIONS.get, [id])) as TaskInfo;
    return new UplinkTask(this.uplink, info);
  }
}

/** A task seen from an uplink: each method asks the server; `status` is the last one seen. */
class UplinkTask implements Task {
  readonly id: string;
  private last: TaskInfo;

  constructor(
    private readonly uplink: TaskCaller,
    info: TaskInfo,
  ) {
    this.id = info.id;
    this.last = info;
  }

  get status(): TaskStatus {
    return this.last.status;
  }

  async info(): Promise<TaskInfo> {
    return this.seen(await this.uplink.callWithOptions(TASK_FUNCTIONS.get, [this.id]));
  }

  async state(): Promise<unknown> {
    return (await this.info()).state;
  }

  async result(): Promise<unknown> {
    let info = this.last;
    while (!isFinishedStatus(info.status)) {
      info = this.seen(
        await this.uplink.callWithOptions(TASK_FUNCTIONS.wait, [this.id, WAIT_MS], {
          timeoutMs: WAIT_CALL_TIMEOUT_MS,
        }),
      );
    }
    return taskOutcome(info);
  }

  async kill(): Promise<void> {
    this.seen(await this.uplink.callWithOptions(TASK_FUNCTIONS.kill, [this.id]));
  }

  private seen(value: unknown): TaskInfo {
    this.last = value as TaskInfo;
    return this.last;
  }
}
