import type { HttpRequest } from '../http/http-request.ts';
import type { CallerInfo } from '../protocol/caller.ts';
import type { CallContext } from './call-context.ts';
import type { TaskContext } from '../tasks/task-context.ts';

/**
 * The CallContext of one running call. The AbortController behind `signal` is created only when
 * a handler asks for the signal (creating one per call is a measurable cost on the hot path);
 * `abort()` before that just records the reason.
 */
export class CallScope implements CallContext {
  /** Set once, before an endpoint handler runs. */
  request: HttpRequest | undefined;
  /** Set once, before the function runs (from the call or request frame). */
  requestId: string | undefined;
  /** Set once, before the function runs, when it runs as a background task. */
  task: TaskContext | undefined;
  private controller: AbortController | undefined;
  private abortedWith: { reason: unknown } | undefined;

  constructor(
    readonly name: string,
    readonly caller: CallerInfo,
    readonly deadline: number | undefined,
  ) {}

  get signal(): AbortSignal {
    if (this.controller === undefined) {
      this.controller = new AbortController();
      if (this.abortedWith !== undefined) this.controller.abort(this.abortedWith.reason);
    }
    return this.controller.signal;
  }

  abort(reason: unknown): void {
    if (this.abortedWith !== undefined) return;
    this.abortedWith = { reason };
    this.controller?.abort(reason);
  }
}
