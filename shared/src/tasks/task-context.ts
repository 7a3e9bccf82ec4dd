import { SwitchboardError } from '../errors/switchboard-error.ts';
import { findCallContext } from '../calls/call-context.ts';
import { StateSender } from './state-sender.ts';

/** What a function running as a background task knows of its task. */
export interface TaskContext {
  readonly taskId: string;
  /** Fires when the task is killed (or its deadline passes, or its provider goes away). */
  readonly signal: AbortSignal;
  /**
   * Publishes the task's progress: kept and readable by anyone watching while it runs. Calls in
   * quick succession are coalesced (the latest value wins); the promise settles once a value
   * at least as new is stored (SB_ERR_TASK_STATE_TOO_LARGE above the server's bound). Not
   * awaiting it is safe: a failure then is dropped.
   */
  setState(value: unknown): Promise<void>;
}

/** The task the current function runs as (anywhere below it); SB_ERR_NO_TASK_CONTEXT if none. */
export function getTaskContext(): TaskContext {
  const task = findCallContext()?.task;
  if (task === undefined) {
    throw new SwitchboardError(
      'SB_ERR_NO_TASK_CONTEXT',
      'getTaskContext() was called outside a function running as a background task',
    );
  }
  return task;
}

/**
 * The TaskContext of a call running as task `taskId`: `signal` is the call's own (made only
 * when asked for), states go out through `send` one at a time, the latest winning.
 */
export function taskContextOf(
  scope: { readonly signal: AbortSignal },
  taskId: string,
  send: (value: unknown) => Promise<void>,
): TaskContext {
  const sender = new StateSender(send);
  return {
    taskId,
    get signal() {
      return scope.signal;
    },
    setState: (value) => {
      const stored = sender.push(value);
      // Progress is often sent without waiting (`void setState(...)`): a failure then must not
      // end the process as an unhandled rejection; whoever awaits it still gets the error.
      stored.catch(() => undefined);
      return stored;
    },
  };
}
