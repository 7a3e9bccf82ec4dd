import { isFunctionName } from '@switchboard/shared';

/** What one REGISTER of an Anvil uplink asks to serve, as Switchboard sees it. */
export type AnvilRegistration =
  | { kind: 'function'; name: string }
  /** `path` as the endpoint table takes it; `pattern` the regex the uplink registered. */
  | { kind: 'endpoint'; path: string; pattern: string }
  | { kind: 'refused'; reason: string };

/** The one regex Anvil's `http_endpoint` puts in place of a `:param` path segment. */
const PARAM_SEGMENT = '([^/]*)';
/** A literal path segment: no regex syntax at all (so it matches only itself). */
const LITERAL_SEGMENT = /^[A-Za-z0-9_~!&',;=@%-]*$/;

/**
 * Reads a registered name. Anvil names are full-match regular expressions: a plain function
 * name, `http:` + a path regex for `@anvil.server.http_endpoint` (each `:param` became
 * `([^/]*)`), `task:` for background tasks, `route:` / `http-wellknown:` for app routes.
 * Functions and endpoints whose regex came from a plain path map onto Switchboard's names and
 * paths (parameters are named `p1`, `p2`, … as Anvil does not send their names); anything else
 * is refused with the reason.
 */
export function anvilRegistration(name: string): AnvilRegistration {
  if (name.startsWith('http:')) return endpoint(name.slice('http:'.length));
  if (name.startsWith('task:'))
    return {
      kind: 'refused',
      reason: 'background tasks (@anvil.server.background_task) are not served yet',
    };
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
  return { kind: 'endpoint', path: `/${segments.join('/')}`, pattern };
}
