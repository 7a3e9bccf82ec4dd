import type { FastifyReply, FastifyRequest } from 'fastify';
import {
  SwitchboardError,
  rateOf,
  type CallerInfo,
  type EndpointPolicy,
  type User,
} from '@switchboard/shared';
import { parseBasicCredentials } from '../auth/basic-credentials.ts';
import { parseBearer, parseTokenHeader } from '../auth/bearer.ts';
import type { KeyThrottle } from '../auth/key-throttle.ts';
import type { SignIn } from '../auth/sign-in.ts';
import type { ResolvedOptions } from '../options.ts';
import type { KeyStore } from '../store/key-store.ts';
import type { Matched } from './api-target.ts';
import type { Limit, RateLimits } from '../limits/rate-limits.ts';
import { EMPTY_STATE, RequestState, type IncomingState } from './request-state.ts';
import { isCrossSiteRequest } from './site.ts';

const BASIC_CHALLENGE = 'Basic realm="switchboard", charset="UTF-8"';
/** `WWW-Authenticate` of a 401 for a wrong user API token. */
const TOKEN_CHALLENGE = 'Token realm="switchboard"';

/** Per request: who the door let in, and the browser state it read for the handler. */
export interface Admission {
  user: User | undefined;
  incoming: IncomingState;
  /**
   * Whether the handler's session and cookie changes are kept (same-site or opted in);
   * undefined when not decided yet (the reply decides it only if the handler changed any).
   */
  keepsState: boolean | undefined;
}

/** A request to an endpoint without a policy and without Switchboard cookies: nothing to read. */
export const PLAIN_ADMISSION: Admission = {
  user: undefined,
  incoming: EMPTY_STATE,
  keepsState: undefined,
};

/** What reading a request's browser state needs. */
export interface StateDeps {
  readonly options: ResolvedOptions;
  readonly state: RequestState;
}

/** What admitting a request to an endpoint needs. */
export interface EndpointAdmissionDeps extends StateDeps {
  readonly signIn: SignIn;
  readonly limits: RateLimits;
}

/** What identifying a caller of `/_/call` needs. */
export interface CallerDeps extends StateDeps {
  readonly signIn: SignIn;
  readonly keys: KeyStore;
  readonly keyThrottle: KeyThrottle;
}

/**
 * The door's checks of a request to an endpoint that need the store or a limiter (so they may
 * wait): the rate limits, Basic credentials and sign-in or a user API token, and the browser
 * state.
 */
export async function admitToEndpoint(
  deps: EndpointAdmissionDeps,
  request: FastifyRequest,
  reply: FastifyReply,
  matched: Matched,
): Promise<Admission> {
  const { policy } = matched;
  const own = policy?.rateLimit;
  const limit =
    own?.max === undefined ? deps.options.rateLimit : { max: own.max, windowMs: own.windowMs };
  if (limit !== undefined) {
    await hitLimit(deps, request, `endpoint:${matched.pattern}:${request.ip}`, limit);
  }
  let user =
    policy?.authenticateUsers === true ? await tokenUser(deps, request, reply, matched) : undefined;
  if (
    user === undefined &&
    (policy?.requireCredentials === true || policy?.authenticateUsers === true)
  ) {
    const credentials = parseBasicCredentials(request.headers.authorization);
    if (credentials === undefined) {
      void reply.header('www-authenticate', BASIC_CHALLENGE);
      const wanted = policy.authenticateUsers === true ? ' or a user API token' : '';
      throw new SwitchboardError(
        'SB_ERR_AUTH_REQUIRED',
        `This endpoint needs Basic credentials${wanted}`,
      );
    }
    if (policy.authenticateUsers === true) {
      try {
        user = await deps.signIn.verify(request, credentials);
      } catch (error) {
        if (error instanceof SwitchboardError && error.code === 'SB_ERR_AUTH_FAILED')
          void reply.header('www-authenticate', BASIC_CHALLENGE);
        throw error;
      }
    }
  }
  return readBrowserState(deps, request, policy, user);
}

/**
 * The user of an `Authorization: Token` request to an endpoint with `authenticateUsers`, after
 * the endpoint's per-token rate limit (`rateLimit.perToken`) counted the request; undefined
 * without such a header. A wrong token is 401 with a Token challenge.
 */
async function tokenUser(
  deps: EndpointAdmissionDeps,
  request: FastifyRequest,
  reply: FastifyReply,
  matched: Matched,
): Promise<User | undefined> {
  const token = parseTokenHeader(request.headers.authorization);
  if (token === undefined) return undefined;
  let verified: { user: User; tokenId: string };
  try {
    verified = await deps.signIn.verifyToken(request, token);
  } catch (error) {
    if (error instanceof SwitchboardError && error.code === 'SB_ERR_AUTH_FAILED')
      void reply.header('www-authenticate', TOKEN_CHALLENGE);
    throw error;
  }
  const perToken = matched.policy?.rateLimit?.perToken;
  if (perToken !== undefined) {
    const key = `token:${verified.tokenId}:${matched.pattern}`;
    await hitLimit(deps, request, key, rateOf(perToken, 'rateLimit.perToken'));
  }
  return verified.user;
}

/** Counts a hit on `key`; SB_ERR_RATE_LIMITED (429 with Retry-After) once over `limit`. */
async function hitLimit(
  deps: Pick<EndpointAdmissionDeps, 'limits'>,
  request: FastifyRequest,
  key: string,
  limit: Limit,
): Promise<void> {
  const wait = await deps.limits.hit(request, key, limit);
  if (wait !== undefined) {
    throw new SwitchboardError(
      'SB_ERR_RATE_LIMITED',
      `At most ${limit.max} requests per ${limit.windowMs} ms; try again in ${wait} s`,
      { data: { retryAfterSeconds: wait } },
    );
  }
}

/**
 * Who calls `/_/call`, as the function will see it, from the headers alone: a key (Bearer,
 * through the key throttle), a user (Basic or a user API token, verified and throttled like
 * endpoints), the session's user (same-site), or anonymous. Throws for a wrong key, password or
 * token.
 */
export async function identifyCaller(
  deps: CallerDeps,
  request: FastifyRequest,
): Promise<CallerInfo> {
  const header = request.headers.authorization;
  if (header !== undefined) {
    const credentials = parseBasicCredentials(header);
    if (credentials !== undefined)
      return { kind: 'http', user: await deps.signIn.verify(request, credentials) };
    const token = parseTokenHeader(header);
    if (token !== undefined)
      return { kind: 'http', user: (await deps.signIn.verifyToken(request, token)).user };
    const secret = parseBearer(header);
    if (secret === undefined) {
      throw new SwitchboardError(
        'SB_ERR_HTTP_BAD_AUTH_HEADER',
        'Authorization must be "Bearer <key>", "Token <user API token>" or Basic credentials',
      );
    }
    const key = deps.keyThrottle.verify(deps.keys, secret, request.ip);
    return { kind: 'http', keyName: key.name, keyKind: key.kind };
  }
  if (RequestState.mentionsOwnCookies(request.headers.cookie)) {
    const { user } = readBrowserState(deps, request, undefined, undefined);
    if (user !== undefined) return { kind: 'http', user };
  }
  return { kind: 'http' };
}

/** Same-site requests, and any request to an endpoint with `crossSiteSession`, keep state. */
export function mayKeepState(
  request: FastifyRequest,
  policy: EndpointPolicy | undefined,
  options: ResolvedOptions,
): boolean {
  return policy?.crossSiteSession === true || !isCrossSiteRequest(request, options);
}

/**
 * The session and cookie jars a request brings, read only when it may keep them, and the user:
 * the one its credentials named, else the session's.
 */
function readBrowserState(
  deps: StateDeps,
  request: FastifyRequest,
  policy: EndpointPolicy | undefined,
  user: User | undefined,
): Admission {
  const keepsState = mayKeepState(request, policy, deps.options);
  const incoming = keepsState ? deps.state.read(request.headers.cookie) : EMPTY_STATE;
  return { user: user ?? deps.state.sessionUser(incoming), incoming, keepsState };
}
