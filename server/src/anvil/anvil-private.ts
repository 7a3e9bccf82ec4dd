import {
  SwitchboardError,
  type CallerInfo,
  type CookieJar,
  type HttpRequest,
  type User,
} from '@switchboard/shared';
import type { LiveObjectCall } from './anvil-frames.ts';
import {
  TASK_BACKEND,
  TASK_PRIVATE_FUNCTIONS,
  callTaskMethod,
  type TaskDesk,
} from './anvil-task-private.ts';

/** The HTTP request an endpoint call to an Anvil uplink serves: where cookies and sign-in go. */
export interface EndpointContext {
  readonly request: HttpRequest;
  /** The signed-in user as the call sees it (changed by login and logout during the call). */
  user: User | undefined;
}

/** What the `anvil.private.*` functions need from the server. */
export interface PrivateDeps {
  /** Verifies a login name and password (throttled like every sign-in); the user, or throws. */
  signIn(email: string, password: string, remoteAddress: string): Promise<User>;
  /** The server's public origin, for calls made outside an HTTP request (may be unknown). */
  readonly publicOrigin: string | undefined;
  /** The server's background tasks (docs/tasks.md). */
  tasks(): TaskDesk;
}

/** A call to `anvil.private.<name>`, with the endpoint call it is made from, if any. */
export interface PrivateCall {
  readonly name: string;
  readonly args: unknown[];
  readonly kwargs: Record<string, unknown>;
  readonly context: EndpointContext | undefined;
  /** Where the uplink connected from (for sign-in throttling outside an HTTP request). */
  readonly remoteAddress: string;
  /** Who calls: the uplink, with its key (what tasks it may launch and see). */
  readonly caller: CallerInfo;
}

type Handler = (call: PrivateCall, deps: PrivateDeps) => unknown;

/**
 * The `anvil.private.*` functions Anvil's uplink library calls by itself, mapped onto
 * Switchboard: the keepalive, cookies, the signed-in user, the app's origins and background tasks
 * (anvil-task-private.ts). Everything else (Data Tables, email, secrets, …) is refused with
 * SB_ERR_ANVIL_UNSUPPORTED.
 * The table in docs/anvil.md lists the same names.
 */
export const PRIVATE_FUNCTIONS: ReadonlyMap<string, Handler> = new Map<string, Handler>([
  ['echo', ({ args }) => args[0] ?? null],
  ['get_cookie', (call) => getCookie(call)],
  ['set_cookie', (call) => setCookie(call)],
  [
    'del_cookie',
    (call) => {
      jar(call).delete(String(call.args[1]));
      return null;
    },
  ],
  [
    'clear_cookie',
    (call) => {
      const cookies = jar(call);
      for (const key of cookies.keys()) cookies.delete(key);
      return null;
    },
  ],
  ['users.get_current_user', ({ context }) => anvilUser(context?.user)],
  ['users.login_with_email', (call, deps) => loginWithEmail(call, deps)],
  [
    'users.logout',
    ({ context }) => {
      if (context !== undefined) {
        context.request.logout();
        context.user = undefined;
      }
      return null;
    },
  ],
  // Sessions follow the door's rules (crossSiteSession); there is nothing to switch.
  ['switch_session!', () => null],
  [
    'get_app_origin',
    ({ context }, deps) => context?.request.appOrigin ?? deps.publicOrigin ?? null,
  ],
  [
    'get_api_origin',
    ({ context }, deps) =>
      context?.request.apiOrigin ??
      (deps.publicOrigin === undefined ? null : `${deps.publicOrigin}/_/api`),
  ],
]);

/** Runs `anvil.private.<name>`: its value (or a promise of it); throws a coded error. */
export function callPrivate(call: PrivateCall, deps: PrivateDeps): unknown {
  const taskFunction = TASK_PRIVATE_FUNCTIONS.get(call.name);
  if (taskFunction !== undefined) return taskFunction(call, deps.tasks());
  const handler = PRIVATE_FUNCTIONS.get(call.name);
  if (handler === undefined) {
    throw new SwitchboardError(
      'SB_ERR_ANVIL_UNSUPPORTED',
      `anvil.private.${call.name} is not available on Switchboard (see docs/anvil.md for what is)`,
    );
  }
  return handler(call, deps);
}

/**
 * A method called on a live object this server gave the script: a Task object's; any other
 * backend (Data Tables rows) is SB_ERR_ANVIL_UNSUPPORTED.
 */
export function callLiveObject(
  live: LiveObjectCall,
  call: PrivateCall,
  deps: PrivateDeps,
): unknown {
  if (live.backend !== TASK_BACKEND)
    throw new SwitchboardError(
      'SB_ERR_ANVIL_UNSUPPORTED',
      'Live objects (Data Tables rows) are not served by Switchboard',
    );
  return callTaskMethod(live.method, live.id, call, deps.tasks());
}

function getCookie(call: PrivateCall): unknown {
  const cookies = jar(call);
  const key = String(call.args[1]);
  if (!cookies.has(key)) {
    // What `cookies.get(name, default)` turns into its default.
    throw new SwitchboardError('SB_ERR_REMOTE_ERROR', key, { remoteType: 'KeyError' });
  }
  return cookies.get(key) ?? null;
}

function setCookie(call: PrivateCall): null {
  const cookies = jar(call);
  const days = call.args[1];
  for (const [key, value] of Object.entries(call.kwargs))
    cookies.set(key, value, typeof days === 'number' && days > 0 ? days : undefined);
  return null;
}

/** `local` or `shared`, of the HTTP request the call is made from. */
function jar(call: PrivateCall): CookieJar {
  if (call.context === undefined) {
    throw new SwitchboardError(
      'SB_ERR_NO_HTTP_REQUEST',
      'This connection is not from a web browser - cannot access cookies.',
    );
  }
  const type = call.args[0];
  if (type !== 'local' && type !== 'shared')
    throw new SwitchboardError('SB_ERR_OPTIONS_INVALID', 'cookie type must be local or shared');
  return call.context.request.cookies[type];
}

async function loginWithEmail(call: PrivateCall, deps: PrivateDeps): Promise<unknown> {
  const [email, password] = call.args;
  if (typeof email !== 'string' || typeof password !== 'string')
    throw new SwitchboardError('SB_ERR_AUTH_FAILED', 'Email and password must be strings');
  const address = call.context?.request.remoteAddress ?? call.remoteAddress;
  const user = await deps.signIn(email, password, address);
  if (call.context !== undefined) {
    call.context.request.login(user);
    call.context.user = user;
  }
  return anvilUser(user);
}

/**
 * A Switchboard user as Anvil scripts read a user row (`user['email']`): its fields under
 * Anvil's column names, plus the user's own data (which never overrides them).
 */
export function anvilUser(user: User | undefined): Record<string, unknown> | null {
  if (user === undefined) return null;
  return {
    ...user.data,
    id: user.id,
    email: user.email,
    enabled: user.enabled,
    signed_up: new Date(user.createdAt),
    last_login: user.lastLoginAt === null ? null : new Date(user.lastLoginAt),
  };
}
