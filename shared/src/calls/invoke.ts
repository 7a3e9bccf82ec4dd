import { HttpRequest } from '../http/http-request.ts';
import { toWireResponse, type MappedResponse } from '../http/http-response.ts';
import type { WireHttpRequest, WireHttpResponse } from '../protocol/wire-http.ts';
import { runWithCallContext, type CallContext } from './call-context.ts';
import type { CallScope } from './call-scope.ts';

/**
 * Receives the outcome of a call: `ok` with the value, or not `ok` with what was thrown (which
 * may be any value). Called exactly once; synchronously when the function returned a plain
 * value (no promise, no microtask hop: the hot path of most handlers), else when its promise
 * settles.
 */
export type Settle = (ok: boolean, outcome: unknown) => void;

/** Runs a registered function inside its call context and reports its outcome to `settle`. */
export function invokeWith(
  context: CallContext,
  fn: (...args: never[]) => unknown,
  args: unknown[],
  settle: Settle,
): void {
  let value: unknown;
  try {
    value = runWithCallContext(context, () => fn(...(args as never[])));
  } catch (error) {
    settle(false, error);
    return;
  }
  if (isThenable(value)) {
    value.then(
      (resolved) => settle(true, resolved),
      (error: unknown) => settle(false, error),
    );
  } else settle(true, value);
}

/** Promise form of invokeWith; a synchronous throw becomes a rejection. */
export function invoke(
  context: CallContext,
  fn: (...args: never[]) => unknown,
  args: unknown[],
): Promise<unknown> {
  return new Promise((resolve, reject) =>
    // eslint-disable-next-line @typescript-eslint/prefer-promise-reject-errors -- a thrown value may be anything
    invokeWith(context, fn, args, (ok, outcome) => (ok ? resolve(outcome) : reject(outcome))),
  );
}

/** A function serving HTTP requests. */
export type EndpointHandler = (request: HttpRequest) => unknown;

/**
 * Serves one HTTP request where the handler lives (an uplink, or the server for app endpoints):
 * builds the request object, runs the handler with `getRequest()` available, and maps its value
 * to status, headers and body bytes. Reports to `settle` like invokeWith (synchronously for a
 * synchronous handler and a body that is not multipart).
 */
export function serveHttpWith(
  scope: CallScope,
  handler: EndpointHandler,
  wire: WireHttpRequest,
  settle: Settle,
): void {
  let built: HttpRequest | Promise<HttpRequest>;
  try {
    built = HttpRequest.fromWire(wire, scope.requestId);
  } catch (error) {
    settle(false, error);
    return;
  }
  if (built instanceof HttpRequest) runHandler(scope, handler, built, settle);
  else
    built.then(
      (request) => runHandler(scope, handler, request, settle),
      (error: unknown) => settle(false, error),
    );
}

function runHandler(
  scope: CallScope,
  handler: EndpointHandler,
  request: HttpRequest,
  settle: Settle,
): void {
  scope.request = request;
  invokeWith(scope, handler, [request], (ok, outcome) => answerWith(request, ok, outcome, settle));
}

/** Maps the handler's outcome to status, headers and body bytes (plus the request's effects). */
function answerWith(request: HttpRequest, ok: boolean, outcome: unknown, settle: Settle): void {
  if (!ok) {
    settle(false, outcome);
    return;
  }
  let response: MappedResponse;
  try {
    response = toWireResponse(outcome);
  } catch (error) {
    settle(false, error);
    return;
  }
  // Session, cookie and sign-in changes travel with the answer (kept only when it succeeds).
  const effects = request.effects();
  if (effects !== undefined) response.effects = effects;
  settle(true, response);
}

/** Promise form of serveHttpWith. */
export function serveHttp(
  scope: CallScope,
  handler: EndpointHandler,
  wire: WireHttpRequest,
): Promise<WireHttpResponse> {
  return new Promise((resolve, reject) =>
    serveHttpWith(scope, handler, wire, (ok, outcome) =>
      // eslint-disable-next-line @typescript-eslint/prefer-promise-reject-errors -- as thrown
      ok ? resolve(outcome as WireHttpResponse) : reject(outcome),
    ),
  );
}

function isThenable(value: unknown): value is PromiseLike<unknown> {
  return (
    (typeof value === 'object' || typeof value === 'function') &&
    value !== null &&
    typeof (value as { then?: unknown }).then === 'function'
  );
}
