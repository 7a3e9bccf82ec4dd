import { HttpRequest } from '../http/http-request.ts';
import { toWireResponse } from '../http/http-response.ts';
import type { WireHttpRequest, WireHttpResponse } from '../protocol/frames.ts';
import { runWithCallContext, type CallContext } from './call-context.ts';
import type { CallScope } from './call-scope.ts';

/** Runs a registered function inside its call context; a synchronous throw becomes a rejection. */
export function invoke(
  context: CallContext,
  fn: (...args: never[]) => unknown,
  args: unknown[],
): Promise<unknown> {
  return runWithCallContext(context, () => {
    try {
      return Promise.resolve(fn(...(args as never[])));
    } catch (error) {
      // A synchronous throw becomes a rejection like any other (it may not be an Error).
      // eslint-disable-next-line @typescript-eslint/prefer-promise-reject-errors
      return Promise.reject(error);
    }
  });
}

/** A function serving HTTP requests. */
export type EndpointHandler = (request: HttpRequest) => unknown;

/**
 * Serves one HTTP request where the handler lives (an uplink, or the server for app endpoints):
 * builds the request object, runs the handler with `getRequest()` available, and maps its value
 * to status, headers and body bytes.
 */
export function serveHttp(
  scope: CallScope,
  handler: EndpointHandler,
  wire: WireHttpRequest,
): Promise<WireHttpResponse> {
  let built: HttpRequest | Promise<HttpRequest>;
  try {
    built = HttpRequest.fromWire(wire);
  } catch (error) {
    // eslint-disable-next-line @typescript-eslint/prefer-promise-reject-errors
    return Promise.reject(error);
  }
  const run = (request: HttpRequest) => {
    scope.request = request;
    return invoke(scope, handler, [request]).then((value) => {
      const response = toWireResponse(value);
      const effects = request.effects();
      if (effects !== undefined) response.effects = effects;
      return response;
    });
  };
  return built instanceof HttpRequest ? run(built) : built.then(run);
}
