import { SwitchboardError, type CallerInfo } from '@switchboard/shared';

/**
 * A task of another server whose call runs here (cluster): its handler's `sb.tasks.setState`
 * reaches this server, which does not know the task, and goes on to the server that owns it.
 */
export interface RelayedTask {
  readonly id: string;
  /** The provider here that runs the call, once picked. */
  provider: string | undefined;
  /** Sends a new state to the task's server. */
  setState(value: unknown): Promise<void>;
}

/** The tasks of other servers whose calls run here now, by task id (docs/cluster.md). */
export class RelayedTasks {
  private readonly tasks = new Map<string, RelayedTask>();

  /** Relays `task` until the returned function is called (its call has ended here). */
  add(task: RelayedTask): () => void {
    this.tasks.set(task.id, task);
    return () => {
      if (this.tasks.get(task.id) === task) this.tasks.delete(task.id);
    };
  }

  /**
   * A new state for a relayed task, sent to its server; undefined if `id` is not relayed here.
   * From an uplink, only the connection running the call may set it (as for a local task).
   */
  setState(id: string, value: unknown, caller: CallerInfo): Promise<void> | undefined {
    const task = this.tasks.get(id);
    if (task === undefined) return undefined;
    if (
      caller.kind === 'uplink' &&
      task.provider !== undefined &&
      caller.connectionId !== task.provider
    )
      return Promise.reject(new SwitchboardError('SB_ERR_NO_SUCH_TASK'));
    return task.setState(value);
  }

  get size(): number {
    return this.tasks.size;
  }
}
