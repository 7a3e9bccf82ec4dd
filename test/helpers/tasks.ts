import { getTaskContext, type Switchboard, type Task } from '@switchboard/server';

/** An in-process function that runs until its task is killed, counting steps in its state. */
export const LOOP_FUNCTION = 'ops.loop';

/**
 * Serves LOOP_FUNCTION on `sb`: while its task runs, it sets its state to `{ step }` every
 * `stepMs`; it returns `'stopped'` when its signal fires (a kill ends the task first).
 */
export function serveLoop(sb: Switchboard, stepMs = 20): void {
  sb.callable(LOOP_FUNCTION, async () => {
    const task = getTaskContext();
    for (let step = 1; !task.signal.aborted; step++) {
      await task.setState({ step });
      await new Promise((resolve) => setTimeout(resolve, stepMs));
    }
    return 'stopped';
  });
}

/** Launches LOOP_FUNCTION and waits until it runs and has set a state. */
export async function launchLoop(sb: Switchboard, timeoutMs = 10_000): Promise<Task> {
  const task = sb.launch(LOOP_FUNCTION);
  const start = Date.now();
  for (;;) {
    const info = await task.info();
    if (info.status === 'running' && info.state !== undefined) return task;
    if (Date.now() - start > timeoutMs) throw new Error(`${task.id} is ${info.status}, no state`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}
