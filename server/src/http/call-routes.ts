import {
  SwitchboardError,
  ValueStream,
  type CallerInfo,
  decodeValue,
  encodeValue,
  isFunctionName,
  toSwitchboardError,
} from '@switchboard/shared';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { parseBasicCredentials, type BasicCredentials } from '../auth/basic-credentials.ts';
import { parseBearer } from '../auth/bearer.ts';
import type { SignIn } from '../auth/sign-in.ts';
import type { Dispatcher } from '../hub/dispatcher.ts';
import type { ResolvedOptions } from '../options.ts';
import type { KeyRecord, KeyStore } from '../store/key-store.ts';
import { fromFastifyError, sendError } from './error-reply.ts';
import { toJson } from './json-value.ts';
import { RequestState } from './request-state.ts';
import { isCrossSiteRequest } from './site.ts';
import { requestIdOf } from '../observe/request-id.ts';

declare module 'fastify' {
  interface FastifyRequest {
    /** The key an HTTP RPC request authenticated with. */
    switchboardKey?: KeyRecord;
    /** Basic credentials of an HTTP RPC request, verified before the call. */
    switchboardCredentials?: BasicCredentials;
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
 */
export function callRoutes(deps: {
  options: ResolvedOptions;
  keys: KeyStore;
  dispatcher: Dispatcher;
  signIn: SignIn;
  state: RequestState;
}) {
  const { options, keys, dispatcher, signIn, state } = deps;

  /** Who is calling, as the function will see it. */
  async function callerOf(request: FastifyRequest): Promise<CallerInfo> {
    const key = request.switchboardKey;
    if (key !== undefined) return { kind: 'http', keyName: key.name, keyKind: key.kind };
    const credentials = request.switchboardCredentials;
    if (credentials !== undefined) {
      return { kind: 'http', user: await signIn.verify(request, credentials) };
    }
    const cookie = request.headers.cookie;
    if (RequestState.mentionsOwnCookies(cookie) && !isCrossSiteRequest(request, options)) {
      const user = state.sessionUser(state.read(cookie));
      if (user !== undefined) return { kind: 'http', user };
    }
    return { kind: 'http' };
  }

  return function routes(app: FastifyInstance, _opts: unknown, done: (err?: Error) => void): void {
    // Only JSON and MessagePack bodies; our JSON parser reads an empty body as "no arguments".
    app.removeAllContentTypeParsers();
    app.addContentTypeParser(
      'application/json',
      { parseAs: 'string' },
      (_req, body: string, done) => {
        if (body.trim() === '') {
          done(null, undefined);
          return;
        }
        try {
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
    app.addContentTypeParser(MSGPACK_TYPE, { parseAs: 'buffer' }, (_req, body: Buffer, done) => {
      try {
        done(null, decodeValue(body));
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

    app.post<{ Params: { name: string } }>(
      '/_/call/:name',
      {
        bodyLimit: options.maxBodyBytes,
        // Authenticate before the body is read: no parsing work for strangers.
        onRequest: (request, _reply, done) => {
          const header = request.headers.authorization;
          if (header === undefined) {
            done(); // anonymous: only allowClients functions
            return;
          }
          try {
            const credentials = parseBasicCredentials(header);
            if (credentials !== undefined) {
              request.switchboardCredentials = credentials;
              done();
              return;
            }
          } catch (error) {
            done(error as Error);
            return;
          }
          const secret = parseBearer(header);
          if (secret === undefined) {
            done(
              new SwitchboardError(
                'SB_ERR_HTTP_BAD_AUTH_HEADER',
                'Authorization must be "Bearer <key>" or Basic credentials',
              ),
            );
            return;
          }
          const key = keys.verify(secret);
          if (key === undefined) {
            done(new SwitchboardError('SB_ERR_AUTH_BAD_KEY'));
            return;
          }
          request.switchboardKey = key;
          done();
        },
      },
      async (request, reply) => {
        const { name } = request.params;
        if (!isFunctionName(name)) {
          throw new SwitchboardError(
            'SB_ERR_NAME_INVALID',
            `Invalid function name ${JSON.stringify(name)}`,
          );
        }
        const args = argumentsOf(request);
        const controller = new AbortController();
        reply.raw.on('close', () => {
          if (!reply.raw.writableFinished) controller.abort();
        });
        const caller = await callerOf(request);
        try {
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
        } catch (error) {
          // Nobody signed in and no key: say a key is what is missing.
          if (
            error instanceof SwitchboardError &&
            error.code === 'SB_ERR_PERMISSION_DENIED' &&
            caller.keyName === undefined &&
            caller.user === undefined
          ) {
            throw new SwitchboardError('SB_ERR_AUTH_MISSING_KEY', error.message);
          }
          throw error;
        }
      },
    );
    done();
  };
}

function argumentsOf(request: FastifyRequest): unknown[] {
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

function timeoutOf(request: FastifyRequest): number | undefined {
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

function sendValue(request: FastifyRequest, reply: FastifyReply, value: unknown): FastifyReply {
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
