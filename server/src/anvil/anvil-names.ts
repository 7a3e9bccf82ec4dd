import { HTTP_METHODS, SwitchboardError, isFunctionName } from '@switchboard/shared';
import type { ProviderRegistrations } from '../catalog/provider-registrations.ts';
import type { KeyRecord } from '../store/key-store.ts';

/** What one REGISTER of an Anvil uplink asks to serve, as Switchboard sees it. */
export type AnvilRegistration =
  | { kind: 'function'; name: string }
  /** `@anvil.server.background_task`: function `name`, run by LAUNCH_BACKGROUND as a task. */
  | { kind: 'task'; name: string }
  /** `path` as the endpoint table takes it. */
  | { kind: 'endpoint'; path: string }
  | { kind: 'refused'; reason: string };

/** The one regex Anvil's `http_endpoint` puts in place of a `:param` path segment. */
const PARAM_SEGMENT = '([^/]*)';
/** A literal path segment: no regex syntax at all (so it matches only itself). */
const LITERAL_SEGMENT = /^[A-Za-z0-9_~!&',;=@%-]*$/;

/**
 * Reads a registered name. Anvil names are full-match regular expressions: a plain function
 * name, `http:` + a path regex for `@anvil.server.http_endpoint` (each `:param` became
 * `([^/]*)`), `task:` for background tasks (served as the function of that name, run only as a task), `route:` / `http-wellknown:` for app routes.
 * Functions and endpoints whose regex came from a plain path map onto Switchboard's names and
 * paths (parameters are named `p1`, `p2`, … as Anvil does not send their names); anything else
 * is refused with the reason.
 */
export function anvilRegistration(name: string): AnvilRegistration {
  if (name.startsWith('http:')) return endpoint(name.slice('http:'.length));
  if (name.startsWith('task:')) {
    const task = name.slice('task:'.length);
    if (isFunctionName(task)) return { kind: 'task', name: task };
    return { kind: 'refused', reason: 'the task name is not a function name' };
  }
  if (name.startsWith('route:') || name.startsWith('http-wellknown:'))
    return { kind: 'refused', reason: 'app routes (@anvil.server.route) are not served' };
  if (isFunctionName(name)) return { kind: 'function', name };
  return {
    kind: 'refused',
    reason: 'the name is a regular expression, not a function name (letters, digits, _ . : -)',
  };
}

function endpoint(pattern: string): AnvilRegistration {
  if (!pattern.startsWith('/'))
    return { kind: 'refused', reason: 'an http endpoint path must start with /' };
  let params = 0;
  // The parameter regex holds a `/` itself: marked first, then the path is split.
  const segments = pattern
    .slice(1)
    .replaceAll(PARAM_SEGMENT, '\0')
    .split('/')
    .map((segment) => {
      if (segment === '\0') return `:p${++params}`;
      return LITERAL_SEGMENT.test(segment) ? segment : undefined;
    });
  if (segments.some((segment) => segment === undefined))
    return {
      kind: 'refused',
      reason:
        'the endpoint regex uses more than literal segments and :params (e.g. a . or a group)',
    };
  return { kind: 'endpoint', path: `/${segments.join('/')}` };
}

/**
 * Serves what one REGISTER names: a function (a callable or a background task: one function of
 * the catalog either way), or an endpoint on every method (the library's wrapper answers 405 for
 * the methods it does not take). Returns what was registered; throws the coded reason it cannot
 * (SB_ERR_NAME_INVALID for a name that does not map, or what the catalog refuses: the key's
 * scope, a conflict).
 */
export function registerAnvilName(
  name: string,
  registrations: ProviderRegistrations,
  key: KeyRecord,
): AnvilRegistration {
  const registration = anvilRegistration(name);
  switch (registration.kind) {
    case 'function':
    case 'task':
      if (!registrations.functionNames().includes(registration.name))
        registrations.add([{ name: registration.name }], [], key);
      return registration;
    case 'endpoint':
      registrations.add([], [{ path: registration.path, methods: [...HTTP_METHODS] }], key);
      return registration;
    case 'refused':
      throw new SwitchboardError('SB_ERR_NAME_INVALID', registration.reason);
    default: {
      const unreachable: never = registration;
      throw new Error(`unhandled registration ${String(unreachable)}`);
    }
  }
}
