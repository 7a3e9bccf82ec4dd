import { randomBytes } from 'node:crypto';
import {
  StreamedValue,
  SwitchboardError,
  ValueStream,
  encodeValue,
  isFinishedStatus,
  isTaskId,
  outgoingRequestId,
  toSwitchboardError,
  type CallerInfo,
} from '@switchboard/shared';
import type { FastifyBaseLogger } from 'fastify';
import type { Dispatcher } from '../hub/dispatcher.ts';
import type { CallSink, Provider } from '../hub/provider.ts';
import type { StoredTask, TaskEnding, TaskQuery, TaskStore } from '../store/task-store.ts';
import { LiveTask, type LiveTaskOwner } from './live-task.ts';
import type { RelayedTasks } from './relayed-tasks.ts';
import { launcherRecord, maySee } from './task-access.ts';
import { TaskTally } from './task-tally.ts';
import type { LaunchOptions, TaskLauncher, TaskRecord, TaskStatus } from './task-types.ts';

/** How often tasks past the retention period are deleted. */
const PURGE_INTERVAL_MS = 60 * 60 * 1000;
/** How often a wait re-reads a task this server does not run (another server of the cluster). */
const REMOTE_POLL_MS = 250;

export interface TaskLimits {
  /** Largest encoded `setState` value. */
  maxTaskStateBytes: number;
  /** Largest encoded return value kept as a task's result. */
  maxTaskResultBytes: number;
  /** How long ended tasks are kept; 0: for ever. */
  taskRetentionMs: number;
  /** Tasks this server runs at once. */
  maxRunningTasks: number;
}

export interface TasksDeps {
  store: TaskStore;
  dispatcher: Dispatcher;
  limits: TaskLimits;
  log: FastifyBaseLogger;
  /** This server's node name in a cluster. */
  node: string | undefined;
  /** Tasks of other servers whose calls run here (cluster): their setState goes on to them. */
  relayed?: RelayedTasks;
}

/**
 * Background tasks (docs/tasks.md): launches a function's call with no deadline, records it,
 * keeps its state, result or error, kills it on request. The call belongs to the task, not to
 * whoever launched it, so it outlives the launcher.
 */
export class Tasks implements TaskLauncher, LiveTaskOwner {
  private readonly live = new Map<string, LiveTask>();
  /** Ended tasks per status and their durations (metrics). */
  readonly tally = new TaskTally();
  private readonly purgeTimer: NodeJS.Timeout | undefined;
  private closed = false;

  constructor(private readonly deps: TasksDeps) {
    // Whatever this server was running when it stopped is not running any more.
    this.interrupt(deps.node);
    if (deps.limits.taskRetentionMs > 0) {
      this.purge();
      this.purgeTimer = setInterval(() => this.purge(), PURGE_INTERVAL_MS);
      this.purgeTimer.unref();
    }
  }

  launch(name: string, args: unknown[], options: LaunchOptions): TaskRecord {
    const { caller, timeoutMs, schedule } = options;
    if (this.closed) throw new SwitchboardError('SB_ERR_SERVER_CLOSING');
    if (!Array.isArray(args)) throw invalid('task arguments must be an array');
    if (timeoutMs !== undefined && !(Number.isSafeInteger(timeoutMs) && timeoutMs > 0))
      throw invalid('timeoutMs must be a positive integer');
    const requestId = outgoingRequestId(options.requestId);
    const refusal = this.deps.dispatcher.vet(name, args, caller);
    if (refusal !== undefined) throw refusal;
    const { maxRunningTasks } = this.deps.limits;
    if (this.live.size >= maxRunningTasks) {
      throw new SwitchboardError(
        'SB_ERR_TOO_MANY_TASKS',
        `This server runs ${maxRunningTasks} background tasks already (maxRunningTasks)`,
      );
    }
    const record: TaskRecord = {
      id: `tsk_${randomBytes(16).toString('base64url')}`,
      name,
      status: 'queued',
      state: undefined,
      createdAt: Date.now(),
    };
    if (schedule !== undefined) record.schedule = schedule;
    if (timeoutMs !== undefined) record.timeoutMs = timeoutMs;
    if (this.deps.node !== undefined) record.node = this.deps.node;
    this.deps.store.insert(record, encodeValue(args), launcherRecord(caller));
    const task = new LiveTask(record, this);
    this.live.set(record.id, task);
    task.handle = this.deps.dispatcher.dispatch(
      { name, args, timeoutMs, caller, requestId, task },
      this.sinkFor(task),
    );
    return { ...record };
  }

  /** The task as stored, its live state over the stored one; undefined if unknown. */
  find(id: string): StoredTask | undefined {
    if (!isTaskId(id)) return undefined;
    const stored = this.deps.store.get(id);
    if (stored !== undefined) this.withLiveState(stored.record);
    return stored;
  }

  /** The task if `caller` may see it, else SB_ERR_NO_SUCH_TASK (unknown and hidden alike). */
  get(id: string, caller: CallerInfo): TaskRecord {
    const stored = this.find(id);
    if (stored === undefined || !maySee(stored, caller, (name) => this.mayCall(name, caller)))
      throw new SwitchboardError('SB_ERR_NO_SUCH_TASK', `No task with id ${JSON.stringify(id)}`);
    return stored.record;
  }

  /** A page of tasks, newest first. */
  list(query: TaskQuery): { items: TaskRecord[]; total: number } {
    const { items, total } = this.deps.store.list(query);
    return { items: items.map((stored) => this.withLiveState(stored.record)), total };
  }

  /**
   * The task once it has ended, or as it is after `waitMs` (whichever comes first): what
   * `task.result()` and long polls wait with.
   */
  async wait(
    id: string,
    caller: CallerInfo,
    waitMs: number,
    signal?: AbortSignal,
  ): Promise<TaskRecord> {
    const record = this.get(id, caller);
    if (isFinishedStatus(record.status) || waitMs <= 0) return record;
    const task = this.live.get(id);
    if (task !== undefined) await endOrTimeout(task, waitMs, signal);
    else {
      // Run by another server: its end arrives in the replicated store.
      const until = Date.now() + waitMs;
      while (
        Date.now() < until &&
        signal?.aborted !== true &&
        !isFinishedStatus(this.get(id, caller).status)
      )
        await new Promise((resolve) => setTimeout(resolve, Math.min(REMOTE_POLL_MS, waitMs)));
    }
    return this.get(id, caller);
  }

  /**
   * Kills a task: its call is cancelled (the handler's signal fires, wherever it runs) and it
   * ends `killed`. Killing an ended task changes nothing. Returns the task as it is after.
   */
  kill(id: string, caller: CallerInfo): TaskRecord {
    const record = this.get(id, caller);
    if (isFinishedStatus(record.status)) return record;
    const task = this.live.get(id);
    if (task !== undefined) {
      task.killed = true;
      task.handle?.cancel(); // settles the sink: the task ends as killed
    } else if (record.node !== undefined && record.node !== this.deps.node) {
      this.deps.store.requestKill(id, Date.now()); // its server acts on it
    } else {
      this.end(id, undefined, failure('killed', killedError()));
    }
    return this.get(id, caller);
  }

  /**
   * A task's new state from its handler (`sb.tasks.setState` from an uplink). From an uplink,
   * only the connection running it may set it. SB_ERR_TASK_STATE_TOO_LARGE above the bound;
   * a task that has ended ignores it.
   */
  setState(id: string, value: unknown, caller: CallerInfo): Promise<void> {
    const task = this.live.get(id);
    const relayed = task === undefined ? this.deps.relayed?.setState(id, value, caller) : undefined;
    if (relayed !== undefined) return relayed; // run here for another server: sent on to it
    if (task === undefined) {
      if (this.find(id) !== undefined) return Promise.resolve(); // ended (or not run here)
      return Promise.reject(new SwitchboardError('SB_ERR_NO_SUCH_TASK'));
    }
    const { provider } = task.record;
    if (caller.kind === 'uplink' && provider !== undefined && caller.connectionId !== provider)
      return Promise.reject(new SwitchboardError('SB_ERR_NO_SUCH_TASK'));
    return this.stateOf(task, value);
  }

  /**
   * Another server of the cluster asked to kill a task this server runs (its replicated kill
   * request arrived): killed as by kill(). Not run here: nothing to do.
   */
  killRequested(id: string): void {
    const task = this.live.get(id);
    if (task === undefined || task.killed) return;
    task.killed = true;
    // The row applied with the request may hold an older state: the end writes the latest.
    task.unsaved = task.stateBytes !== undefined;
    task.handle?.cancel();
  }

  /**
   * Ends the unfinished tasks of `node` (this server at start, or a server that left the
   * cluster) as failed SB_ERR_TASK_INTERRUPTED; returns how many. Never one that runs here.
   */
  interrupt(node: string | undefined): number {
    let count = 0;
    for (const id of this.deps.store.unfinished(node)) {
      if (this.live.has(id)) continue;
      if (this.deps.store.end(id, failure('failed', interrupted()))) count++;
    }
    return count;
  }

  /** Stops: what still runs here is recorded as interrupted (its call is cut by the close). */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    if (this.purgeTimer !== undefined) clearInterval(this.purgeTimer);
    // Their waiters are told now (the calls are cut by the hub's and providers' close).
    for (const [id, task] of [...this.live]) this.end(id, task, failure('failed', interrupted()));
  }

  /** Recorded tasks per status, all servers of a cluster alike (metrics). */
  counts(): Map<TaskStatus, number> {
    return this.deps.store.countByStatus();
  }

  /** How many tasks this server runs now. */
  get running(): number {
    return this.live.size;
  }

  // LiveTaskOwner

  started(task: LiveTask, provider: Provider): void {
    const at = Date.now();
    // `node` stays the server that owns the task (holds its call), also when the call went on
    // to another server's provider (`provider` is then `node:<name>`): that is where it ends.
    if (!this.deps.store.started(task.id, provider.providerId, this.deps.node, at)) return;
    Object.assign(task.record, { status: 'running', provider: provider.providerId, startedAt: at });
  }

  stateOf(task: LiveTask, value: unknown): Promise<void> {
    let bytes: Buffer;
    try {
      bytes = encodeValue(value);
    } catch (error) {
      return Promise.reject(toSwitchboardError(error));
    }
    const limit = this.deps.limits.maxTaskStateBytes;
    if (bytes.length > limit) {
      return Promise.reject(
        new SwitchboardError(
          'SB_ERR_TASK_STATE_TOO_LARGE',
          `The task's state is ${bytes.length} bytes encoded; maxTaskStateBytes is ${limit}`,
        ),
      );
    }
    if (this.live.get(task.id) === task) task.newState(value, bytes);
    return Promise.resolve();
  }

  saveState(task: LiveTask): void {
    if (task.stateBytes !== undefined && !this.closed)
      this.deps.store.saveState(task.id, task.stateBytes);
  }

  private sinkFor(task: LiveTask): CallSink {
    return {
      resolve: (value) => {
        this.collect(value).then(
          (bytes) => this.complete(task, bytes),
          (error: unknown) => this.end(task.id, task, failure('failed', toSwitchboardError(error))),
        );
      },
      reject: (error) => {
        const ending =
          task.killed && error.code === 'SB_ERR_CALL_CANCELLED'
            ? failure('killed', killedError())
            : failure('failed', error);
        this.end(task.id, task, ending);
      },
    };
  }

  /** The return value whole and encoded (a streamed one collected first). */
  private async collect(value: unknown): Promise<Buffer> {
    let whole = value;
    if (value instanceof StreamedValue) whole = await value.decode();
    if (whole instanceof ValueStream) whole = await whole.collect();
    return encodeValue(whole);
  }

  private complete(task: LiveTask, bytes: Buffer): void {
    const limit = this.deps.limits.maxTaskResultBytes;
    if (bytes.length <= limit) {
      this.end(task.id, task, { status: 'completed', result: bytes, endedAt: Date.now() });
      return;
    }
    const error = new SwitchboardError(
      'SB_ERR_TASK_RESULT_TOO_LARGE',
      `The task returned ${bytes.length} bytes encoded; maxTaskResultBytes is ${limit}`,
    );
    this.end(task.id, task, failure('failed', error));
  }

  private end(id: string, task: LiveTask | undefined, ending: TaskEnding): void {
    if (task !== undefined && this.live.get(id) !== task) return;
    this.live.delete(id);
    // A late outcome (its call settling after close() or kill() ended the task) stopped above.
    const finalState = task?.unsaved === true ? task.stateBytes : undefined;
    if (this.deps.store.end(id, ending, finalState) && task !== undefined)
      this.tally.ended(ending.status, ending.endedAt - (task.record.startedAt ?? ending.endedAt));
    if (task !== undefined) {
      Object.assign(task.record, { status: ending.status, endedAt: ending.endedAt });
      task.ended();
      if (ending.status === 'failed')
        this.deps.log.warn(
          { task: id, function: task.record.name, code: ending.error?.code },
          'task failed',
        );
    }
  }

  private withLiveState(record: TaskRecord): TaskRecord {
    const task = this.live.get(record.id);
    if (task?.stateBytes !== undefined) record.state = task.state;
    return record;
  }

  private mayCall(name: string, caller: CallerInfo): boolean {
    return this.deps.dispatcher.admit(name, caller) === undefined;
  }

  private purge(): void {
    const removed = this.deps.store.purge(Date.now() - this.deps.limits.taskRetentionMs);
    if (removed > 0) this.deps.log.info({ removed }, 'removed tasks past the retention period');
  }
}

/** Resolves when `task` ends, `waitMs` passes or `signal` fires, whichever is first. */
function endOrTimeout(task: LiveTask, waitMs: number, signal: AbortSignal | undefined) {
  return new Promise<void>((resolve) => {
    const done = () => {
      clearTimeout(timer);
      stop();
      signal?.removeEventListener('abort', done);
      resolve();
    };
    const timer = setTimeout(done, waitMs);
    const stop = task.onEnd(done);
    signal?.addEventListener('abort', done, { once: true });
  });
}

function failure(status: 'failed' | 'killed', error: SwitchboardError): TaskEnding {
  return { status, error: { code: error.code, message: error.message }, endedAt: Date.now() };
}

function interrupted(): SwitchboardError {
  return new SwitchboardError(
    'SB_ERR_TASK_INTERRUPTED',
    'The server stopped while the task was running',
  );
}

function killedError(): SwitchboardError {
  return new SwitchboardError('SB_ERR_TASK_KILLED', 'The task was killed');
}

function invalid(message: string): SwitchboardError {
  return new SwitchboardError('SB_ERR_OPTIONS_INVALID', message);
}
