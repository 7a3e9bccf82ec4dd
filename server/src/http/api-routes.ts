import { validateHeaderName, validateHeaderValue } from 'node:http';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import {
  SwitchboardError,
  toSwitchboardError,
  type WireHttpRequest,
  type WireHttpResponse,
} from '@switchboard/shared';
import type { Dispatcher } from '../hub/dispatcher.ts';
import type { CallSink } from '../hub/provider.ts';
import type { EndpointTable } from '../hub/endpoint-table.ts';
import type { ResolvedOptions } from '../options.ts';
import { fromFastifyError, sendError } from './error-reply.ts';

/** Where uplink endpoints are served. */
export const API_PREFIX = '/_/api';

/**
 * The HTTP door for endpoints: `/_/api/<path>` for every method. Matching, method checks and
 * OPTIONS happen here before any frame is sent; the raw body travels to the provider as bytes,
 * and the provider's answer (status, headers, body bytes) is written back as is.
 */
export function apiRoutes(deps: {
  options: ResolvedOptions;
  endpoints: EndpointTable;
  dispatcher: Dispatcher;
}) {
  const { options, endpoints, dispatcher } = deps;
  return function routes(app: FastifyInstance, _opts: unknown, done: (err?: Error) => void): void {
    // Every body is forwarded untouched; parsing happens where the handler runs.
    app.removeAllContentTypeParsers();
    app.addContentTypeParser('*', { parseAs: 'buffer' }, (_req, body: Buffer, next) =>
      next(null, body),
    );
    app.setErrorHandler((error, _request, reply) =>
      sendError(reply, fromFastifyError(error), options.debug),
    );

    app.route({
      method: ['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS'],
      url: `${API_PREFIX}/*`,
      bodyLimit: options.maxBodyBytes,
      exposeHeadRoute: false,
      handler: (request, reply) => {
        const url = request.raw.url ?? '/';
        const queryAt = url.indexOf('?');
        const path = url.slice(API_PREFIX.length, queryAt === -1 ? undefined : queryAt) || '/';
        const resolution = endpoints.resolve(request.method, path);
        switch (resolution.kind) {
          case 'not-found':
            throw new SwitchboardError('SB_ERR_HTTP_NOT_FOUND', `No endpoint at ${path}`);
          case 'no-provider':
            // Retry-After comes with every retryable 503 (sendError).
            throw new SwitchboardError(
              'SB_ERR_HTTP_NO_PROVIDER',
              `No uplink serving ${path} is connected`,
            );
          case 'method-not-allowed':
            void reply.header('allow', resolution.allow.join(', '));
            throw new SwitchboardError(
              'SB_ERR_HTTP_METHOD_NOT_ALLOWED',
              `${request.method} is not allowed here; allowed: ${resolution.allow.join(', ')}`,
            );
          case 'options':
            // CORS preflight handling attaches here (auth issue).
            void reply.code(204).header('allow', resolution.allow.join(', ')).send();
            return;
          case 'ok':
            break;
          default: {
            const unreachable: never = resolution;
            throw new Error(`unhandled resolution ${String(unreachable)}`);
          }
        }
        const appOrigin = options.publicOrigin ?? `${request.protocol}://${request.host}`;
        const http: WireHttpRequest = {
          method: request.method,
          path,
          params: resolution.params,
          query: queryAt === -1 ? '' : url.slice(queryAt + 1),
          headers: request.headers as Record<string, string | string[]>,
          remoteAddress: request.ip,
          body: Buffer.isBuffer(request.body) ? request.body : undefined,
          appOrigin,
          apiOrigin: appOrigin + API_PREFIX,
        };
        // The provider settles the reply directly (no promise, no AbortController per request).
        const sink = new ReplySink(request, reply, options.debug);
        const handle = resolution.provider.start(
          {
            name: resolution.pattern,
            args: [],
            http,
            timeoutMs: dispatcher.timeoutFor(undefined),
            caller: { kind: 'http' },
          },
          sink,
        );
        if (!sink.settled) {
          reply.raw.once('close', () => {
            if (!sink.settled) handle.cancel();
          });
        }
        // Returning nothing (not `reply`, a thenable Fastify would watch with end-of-stream
        // listeners) from a synchronous handler: the sink answers.
      },
    });
    done();
  };
}

/** Writes a provider's outcome to the HTTP reply, once. */
class ReplySink implements CallSink {
  settled = false;

  constructor(
    private readonly request: FastifyRequest,
    private readonly reply: FastifyReply,
    private readonly debug: boolean,
  ) {}

  resolve(value: unknown): void {
    if (this.settled) return;
    this.settled = true;
    try {
      sendResponse(this.request, this.reply, value);
    } catch (error) {
      sendError(this.reply, toSwitchboardError(error), this.debug);
    }
  }

  reject(error: SwitchboardError): void {
    if (this.settled) return;
    this.settled = true;
    if (this.reply.raw.destroyed) return; // the client went away; nobody to answer
    sendError(this.reply, error, this.debug);
  }
}

/**
 * Writes the provider's answer straight to the socket (Fastify's reply pipeline adds nothing
 * here: the answer is already bytes), after checking it is one: a provider is not trusted blindly.
 */
function sendResponse(request: FastifyRequest, reply: FastifyReply, answer: unknown): void {
  const response = checkResponse(answer);
  const body = response.body;
  const res = reply.raw;
  // One writeHead with a plain object (Node's fast path, as Fastify's own replies use) instead
  // of a setHeader per header; the door sets content-length, whatever the provider said.
  // Checked before anything touches `res`, so a bad header leaves the error reply intact.
  const headers: Record<string, string | string[] | number> = {};
  try {
    for (const name in response.headers) {
      if (name.length === 14 && name.toLowerCase() === 'content-length') continue;
      const value = response.headers[name]!;
      validateHeaderName(name);
      if (typeof value === 'string') validateHeaderValue(name, value);
      else for (const item of value) validateHeaderValue(name, item);
      headers[name] = value;
    }
  } catch (error) {
    throw new SwitchboardError(
      'SB_ERR_HTTP_BAD_RESPONSE',
      `The handler set an invalid header: ${error instanceof Error ? error.message : String(error)}`,
    );
  }
  if (body !== undefined) headers['content-length'] = body.byteLength;
  res.writeHead(response.status, headers);
  reply.hijack();
  if (body === undefined || request.method === 'HEAD') res.end();
  else res.end(body);
}

function checkResponse(value: unknown): WireHttpResponse {
  const response = value as Partial<WireHttpResponse> | null;
  if (
    response === null ||
    typeof response !== 'object' ||
    !Number.isInteger(response.status) ||
    (response.status ?? 0) < 200 ||
    (response.status ?? 0) > 999 ||
    typeof response.headers !== 'object' ||
    response.headers === null ||
    (response.body !== undefined && !(response.body instanceof Uint8Array))
  ) {
    throw new SwitchboardError(
      'SB_ERR_HTTP_BAD_RESPONSE',
      'The provider answered with something that is not an HTTP response',
    );
  }
  return response as WireHttpResponse;
}
