import { AsyncLocalStorage } from 'node:async_hooks';
import { SwitchboardError } from '../errors/switchboard-error.ts';
import type { HttpRequest } from '../http/http-request.ts';
import type { CallerInfo } from '../protocol/caller.ts';
import type { TaskContext } from '../tasks/task-context.ts';
import { isRequestId } from '../protocol/request-id.ts';

/** What a running function knows about the call it is serving. */
export interface CallContext {
  /** Name the function was called by. */
  readonly name: string;
  /** Fires when the caller cancels, the caller goes away, or the deadline passes. */
  readonly signal: AbortSignal;
  /** Who called. */
  readonly caller: CallerInfo;
  /** Wall-clock time (ms since epoch) after which the caller no longer waits; undefined: none. */
  readonly deadline: number | undefined;
  /** The HTTP request, when the function is an endpoint handler. */
  readonly request?: HttpRequest;
  /**
   * The id of the HTTP request this call serves (its `X-Request-Id`, or one the server made
   * up), also when it reached this function through other calls; undefined for calls that did
   * not start with an HTTP request. Calls made from here carry it on.
   */
  readonly requestId: string | undefined;
  /** Set when the function runs as a background task (see getTaskContext()). */
  readonly task?: TaskContext;
}

const storage = new AsyncLocalStorage<CallContext>();

/** The context of the registered function currently running (works anywhere below it). */
export function getCallContext(): CallContext {
  const context = storage.getStore();
  if (context === undefined) {
    throw new SwitchboardError(
      'SB_ERR_NO_CALL_CONTEXT',
      'getCallContext() was called outside a registered function',
    );
  }
  return context;
}

/** The context of the registered function currently running, or undefined outside one. */
export function findCallContext(): CallContext | undefined {
  return storage.getStore();
}

/**
 * The request id a new call carries: the caller's choice, else that of the call being served
 * (logs tie a request and the calls it makes together). SB_ERR_OPTIONS_INVALID for a bad one.
 */
export function outgoingRequestId(requested: string | undefined): string | undefined {
  const requestId = requested ?? storage.getStore()?.requestId;
  if (requestId !== undefined && !isRequestId(requestId)) {
    throw new SwitchboardError(
      'SB_ERR_OPTIONS_INVALID',
      'requestId must be 1-128 characters of letters, digits and . _ : @ / + = -',
    );
  }
  return requestId;
}

/** The HTTP request being served (anywhere below an endpoint handler). */
export function getRequest(): HttpRequest {
  const request = storage.getStore()?.request;
  if (request === undefined) {
    throw new SwitchboardError(
      'SB_ERR_NO_CALL_CONTEXT',
      'getRequest() was called outside an HTTP endpoint handler',
    );
  }
  return request;
}

/** Base URL of the HTTP endpoints (`<origin>/_/api`), honouring a configured public origin. */
export function getApiOrigin(): string {
  return getRequest().apiOrigin;
}

/** Base URL of the app (the server's origin), honouring a configured public origin. */
export function getAppOrigin(): string {
  return getRequest().appOrigin;
}

/** Runs `fn` with `context` visible to getCallContext() in everything it awaits. */
export function runWithCallContext<T>(context: CallContext, fn: () => T): T {
  return storage.run(context, fn);
}

/**
 * `source` with every step run inside `context`: an async generator's body runs when it is
 * pulled, which is after its function returned, so without this it would not see its call.
 */
export function inCallContext<T>(context: CallContext, source: AsyncIterable<T>): AsyncIterable<T> {
  return {
    [Symbol.asyncIterator](): AsyncIterator<T> {
      const iterator = storage.run(context, () => source[Symbol.asyncIterator]());
      return {
        next: () => storage.run(context, () => iterator.next()),
        return: (value?: unknown) =>
          storage.run(
            context,
            () =>
              iterator.return?.(value) ??
              Promise.resolve({ done: true, value: undefined } as IteratorResult<T>),
          ),
      };
    },
  };
}
