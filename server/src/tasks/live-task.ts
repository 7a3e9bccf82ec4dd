import type { CallHandle, Provider, TaskTag } from '../hub/provider.ts';
import type { TaskRecord } from './task-types.ts';

/** How often at most a running task's state is written to the store (it is read live). */
export const STATE_SAVE_INTERVAL_MS = 1000;

/** What a live task reports to the manager that runs it. */
export interface LiveTaskOwner {
  started(task: LiveTask, provider: Provider): void;
  stateOf(task: LiveTask, value: unknown): Promise<void>;
  saveState(task: LiveTask): void;
}

/**
 * A task whose call this server runs now: the handle to kill it, its latest state (kept here
 * and written to the store at most once a second), and who waits for its end.
 */
export class LiveTask implements TaskTag {
  handle: CallHandle | undefined;
  /** Set by kill(): the call's cancellation then ends the task as `killed`. */
  killed = false;
  /** The latest state, as given and as encoded. */
  state: unknown;
  stateBytes: Buffer | undefined;
  /** Whether `stateBytes` is newer than the store's. */
  unsaved = false;
  private lastSavedAt = 0;
  private saveTimer: NodeJS.Timeout | undefined;
  private readonly waiters: Array<() => void> = [];

  constructor(
    readonly record: TaskRecord,
    private readonly owner: LiveTaskOwner,
  ) {}

  get id(): string {
    return this.record.id;
  }

  started(provider: Provider): void {
    this.owner.started(this, provider);
  }

  setState(value: unknown): Promise<void> {
    return this.owner.stateOf(this, value);
  }

  /** Records a new state: saved now if the last save is a second old, else a second after it. */
  newState(value: unknown, bytes: Buffer): void {
    this.state = value;
    this.stateBytes = bytes;
    this.unsaved = true;
    if (this.saveTimer !== undefined) return;
    const wait = this.lastSavedAt + STATE_SAVE_INTERVAL_MS - Date.now();
    if (wait <= 0) this.save();
    else {
      this.saveTimer = setTimeout(() => this.save(), wait);
      this.saveTimer.unref();
    }
  }

  private save(): void {
    this.saveTimer = undefined;
    this.lastSavedAt = Date.now();
    this.unsaved = false;
    this.owner.saveState(this);
  }

  /** Resolves at the end (or never, if the caller stops waiting first: see `waitEnd`). */
  onEnd(waiter: () => void): () => void {
    this.waiters.push(waiter);
    return () => {
      const at = this.waiters.indexOf(waiter);
      if (at >= 0) this.waiters.splice(at, 1);
    };
  }

  /** The task ended: no more saves, every waiter told. */
  ended(): void {
    if (this.saveTimer !== undefined) clearTimeout(this.saveTimer);
    this.saveTimer = undefined;
    for (const waiter of this.waiters.splice(0)) waiter();
  }
}
