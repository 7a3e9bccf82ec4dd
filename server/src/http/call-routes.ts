import {
  SwitchboardError,
  ValueStream,
  type CallerInfo,
  decodeValue,
  checkJsonLimits,
  isTrustedCaller,
  DEFAULT_DECODE_LIMITS,
  type DecodeLimits,
  encodeValue,
  isFunctionName,
  toSwitchboardError,
} from '@switchboard/shared';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { Transform, type Readable } from 'node:stream';
import type { Dispatcher } from '../hub/dispatcher.ts';
import { fromFastifyError, sendError } from './error-reply.ts';
import { toJson } from './json-value.ts';
import { identifyCaller, type CallerDeps } from './admission.ts';
import { requestIdOf } from '../observe/request-id.ts';
import type { Tasks } from '../tasks/tasks.ts';
import { taskRoutes } from './task-routes.ts';

declare module 'fastify' {
  interface FastifyRequest {
    /** Who calls, resolved from the headers before the body is read. */
    switchboardCaller?: CallerInfo;
  }
}

export const MSGPACK_TYPE = 'application/msgpack';
/** Request header carrying a per-call deadline in milliseconds. */
export const TIMEOUT_HEADER = 'x-switchboard-timeout-ms';

/**
 * `POST /_/call/:name`: call a registered function over HTTP. Body: JSON array of arguments or
 * MessagePack array (`application/msgpack`); empty body: no arguments. Answer: JSON, or
 * MessagePack when `Accept` asks for it. The caller is a key (`Authorization: Bearer`), a user
 * (`Authorization: Basic`, or the session's user on a same-site request), or anonymous; all but
 * server keys may call only functions registered with `allowClients`.
 *
 * Everything about the caller is decided from the URL and headers before the body is read:
 * who it is, whether it may call that name (a name it may not call answers exactly like one
 * that does not exist), and how large a body it may send.
 */
export function callRoutes(deps: CallerDeps & { dispatcher: Dispatcher; tasks?: Tasks }) {
  const { options, dispatcher } = deps;
  const clientLimits: DecodeLimits = {
    ...DEFAULT_DECODE_LIMITS,
    maxValues: options.clientKeyLimits.maxValues,
  };

  /** What parsing one body may cost: callers without a server key get the client-key budget. */
  function limitsFor(request: FastifyRequest): DecodeLimits {
    const caller = request.switchboardCaller;
    return caller !== undefined && isTrustedCaller(caller) ? DEFAULT_DECODE_LIMITS : clientLimits;
  }

  return function routes(app: FastifyInstance, _opts: unknown, done: (err?: Error) => void): void {
    // Only JSON and MessagePack bodies; our JSON parser reads an empty body as "no arguments".
    app.removeAllContentTypeParsers();
    app.addContentTypeParser(
      'application/json',
      { parseAs: 'string' },
      (request, body: string, done) => {
        if (body.trim() === '') {
          done(null, undefined);
          return;
        }
        try {
          checkJsonLimits(body, limitsFor(request));
          done(null, JSON.parse(body));
        } catch (error) {
          done(
            new SwitchboardError(
              'SB_ERR_HTTP_BAD_BODY',
              `Invalid JSON: ${toSwitchboardError(error).message}`,
            ),
            undefined,
          );
        }
      },
    );
    app.addContentTypeParser(MSGPACK_TYPE, { parseAs: 'buffer' }, (request, body: Buffer, done) => {
      try {
        done(null, decodeValue(body, limitsFor(request)));
      } catch (error) {
        done(
          new SwitchboardError('SB_ERR_HTTP_BAD_BODY', toSwitchboardError(error).message),
          undefined,
        );
      }
    });
    app.setErrorHandler((error, _request, reply) =>
      sendError(reply, fromFastifyError(error), options.debug),
    );

    // What a caller may send is decided from its headers, before any body is read.
    const gate = {
      bodyLimit: options.maxBodyBytes,
      onRequest: async (request: FastifyRequest) => {
        const { name } = (request as FastifyRequest<{ Params: { name: string } }>).params;
        request.switchboardCaller = await admitCaller(deps, request, name);
      },
      preParsing: (
        request: FastifyRequest,
        _reply: FastifyReply,
        payload: Readable,
        done: (error: Error | null, body?: Readable) => void,
      ) => {
        let body: Readable;
        try {
          body = boundedForAnonymous(request, payload, options.anonymousMaxBodyBytes);
        } catch (error) {
          done(error as Error);
          return;
        }
        done(null, body);
      },
    };
    app.post<{ Params: { name: string } }>('/_/call/:name', gate, async (request, reply) => {
      const { name } = request.params;
      const args = argumentsOf(request);
      const controller = new AbortController();
      reply.raw.on('close', () => {
        if (!reply.raw.writableFinished) controller.abort();
      });
      const caller = request.switchboardCaller ?? { kind: 'http' };
      const answer = await dispatcher.call(name, args, caller, {
        signal: controller.signal,
        timeoutMs: timeoutOf(request),
        requestId: requestIdOf(request),
      });
      // A streaming function answers with all its parts, as call() does.
      const value =
        answer instanceof ValueStream
          ? await answer.collect({ signal: controller.signal })
          : answer;
      return sendValue(request, reply, value);
    });
    if (deps.tasks !== undefined) taskRoutes(app, { ...deps, tasks: deps.tasks }, gate);
    done();
  };
}

/**
 * The caller of a route named by function `name`, from the headers alone, if it may call that
 * name (one it may not call answers exactly like one that does not exist).
 */
async function admitCaller(
  deps: CallerDeps & { dispatcher: Dispatcher },
  request: FastifyRequest,
  name: string,
): Promise<CallerInfo> {
  if (!isFunctionName(name)) {
    throw new SwitchboardError(
      'SB_ERR_NAME_INVALID',
      `Invalid function name ${JSON.stringify(name)}`,
    );
  }
  const caller = await identifyCaller(deps, request);
  const refusal = deps.dispatcher.admit(name, caller);
  if (refusal !== undefined) throw refusal;
  return caller;
}

/** Callers with neither key nor user get a small body; the route's limit holds for others. */
function boundedForAnonymous(request: FastifyRequest, payload: Readable, limit: number): Readable {
  const caller = request.switchboardCaller;
  if (caller?.keyName !== undefined || caller?.user !== undefined) return payload;
  if (Number(request.headers['content-length']) > limit) throw anonymousTooLarge(limit);
  return limitedStream(payload, limit, () => anonymousTooLarge(limit));
}

function anonymousTooLarge(limit: number): SwitchboardError {
  return new SwitchboardError(
    'SB_ERR_HTTP_BODY_TOO_LARGE',
    `Callers without a key or a signed-in user may send at most ${limit} bytes`,
  );
}

/** Passes `payload` through, failing with `tooLarge()` once more than `limit` bytes came. */
function limitedStream(payload: Readable, limit: number, tooLarge: () => Error): Readable {
  let total = 0;
  const limited = new Transform({
    transform(chunk: Buffer, _encoding, callback) {
      total += chunk.byteLength;
      if (total > limit) callback(tooLarge());
      else callback(null, chunk);
    },
  });
  payload.on('error', (error) => limited.destroy(error));
  return payload.pipe(limited);
}

export function argumentsOf(request: FastifyRequest): unknown[] {
  const body = request.body;
  if (body === undefined || body === null) return [];
  if (!Array.isArray(body)) {
    throw new SwitchboardError(
      'SB_ERR_HTTP_BAD_BODY',
      'The body must be an array of arguments, e.g. [2, 3]',
    );
  }
  return body as unknown[];
}

export function timeoutOf(request: FastifyRequest): number | undefined {
  const raw = request.headers[TIMEOUT_HEADER];
  if (raw === undefined) return undefined;
  const value = Number(raw);
  if (!Number.isSafeInteger(value) || value <= 0) {
    throw new SwitchboardError(
      'SB_ERR_HTTP_BAD_BODY',
      `${TIMEOUT_HEADER} must be a positive integer`,
    );
  }
  return value;
}

export function sendValue(
  request: FastifyRequest,
  reply: FastifyReply,
  value: unknown,
): FastifyReply {
  if ((request.headers.accept ?? '').includes(MSGPACK_TYPE)) {
    return reply.type(MSGPACK_TYPE).send(encodeValue(value));
  }
  let json: string;
  try {
    json = toJson(value);
  } catch (error) {
    throw new SwitchboardError('SB_ERR_VALUE_NOT_SERIALIZABLE', toSwitchboardError(error).message);
  }
  return reply.type('application/json; charset=utf-8').send(json);
}
