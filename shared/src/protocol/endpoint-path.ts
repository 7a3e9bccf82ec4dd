import { SwitchboardError } from '../errors/switchboard-error.ts';
import { normalizePolicy } from './access-policy.ts';
import { endpointDoc } from './endpoint-doc.ts';
import {
  HTTP_METHODS,
  type EndpointDoc,
  type EndpointPolicy,
  type EndpointRegistration,
  type HttpMethod,
} from './registrations.ts';

const MAX_PATH_LENGTH = 500;
// No `*`: the router would take it as a catch-all (undocumented) or fail on it half-way
// through a registration (`/a*b`); a path is text segments and `:params` only.
const STATIC_SEGMENT = /^[A-Za-z0-9._~!$&'()+,;=@%-]+$/;
const PARAM_SEGMENT = /^:[A-Za-z_][A-Za-z0-9_]*$/;

/**
 * Validates an endpoint path pattern (`/users/:id/history/:itemId`) and returns its shape, the
 * pattern with parameter names erased (`/users/:/history/:`): two patterns with one shape would
 * match the same URLs, so only one of them may be live. Throws SB_ERR_ENDPOINT_PATH_INVALID,
 * also for any `*` (there are no wildcard or catch-all paths).
 */
export function endpointShape(path: unknown): string {
  if (typeof path !== 'string' || !path.startsWith('/') || path.length > MAX_PATH_LENGTH) {
    throw invalid(
      `Endpoint path must start with / and be at most ${MAX_PATH_LENGTH} characters`,
      path,
    );
  }
  if (path === '/') return '/';
  const seen = new Set<string>();
  const segments = path.slice(1).split('/');
  return (
    '/' +
    segments
      .map((segment) => {
        if (PARAM_SEGMENT.test(segment)) {
          if (seen.has(segment)) throw invalid(`Parameter ${segment} appears twice`, path);
          seen.add(segment);
          return ':';
        }
        if (STATIC_SEGMENT.test(segment) && !segment.includes(':')) return segment;
        if (segment.includes('*')) {
          throw invalid(
            `Invalid path segment ${JSON.stringify(segment)}: * is not allowed (no wildcard or catch-all paths; use :params)`,
            path,
          );
        }
        throw invalid(`Invalid path segment ${JSON.stringify(segment)}`, path);
      })
      .join('/')
  );
}

/** Validates a list of methods; empty means the default GET and POST. */
export function endpointMethods(methods: unknown): HttpMethod[] {
  if (methods === undefined) return ['GET', 'POST'];
  if (!Array.isArray(methods) || methods.length === 0) {
    throw invalid('methods must be a non-empty array', methods);
  }
  const result = new Set<HttpMethod>();
  for (const method of methods as unknown[]) {
    const upper = typeof method === 'string' ? method.toUpperCase() : method;
    if (!(HTTP_METHODS as readonly unknown[]).includes(upper)) {
      throw invalid(
        `Unsupported method ${JSON.stringify(method)}; use ${HTTP_METHODS.join(', ')}`,
        methods,
      );
    }
    result.add(upper as HttpMethod);
  }
  return [...result];
}

/**
 * What `httpEndpoint(path, options, handler)` accepts, on the server and in uplinks alike: the
 * door's policy, and the summary, description, tags and JSON Schemas of the endpoint.
 */
export interface EndpointOptions extends EndpointPolicy, EndpointDoc {
  /** Methods served; HEAD (for GET) and OPTIONS are answered automatically. @default ['GET', 'POST'] */
  methods?: HttpMethod[];
}

/**
 * Checks the arguments of an `httpEndpoint(path, options, handler)` and returns what is
 * registered. Throws SB_ERR_ENDPOINT_PATH_INVALID or SB_ERR_OPTIONS_INVALID (also for a
 * schema that is not plain JSON or too large).
 */
export function endpointRegistration(
  path: string,
  options: EndpointOptions,
  handler: unknown,
): EndpointRegistration {
  endpointShape(path);
  if (typeof options !== 'object' || options === null)
    throw new SwitchboardError('SB_ERR_OPTIONS_INVALID', 'httpEndpoint options must be an object');
  const { methods, summary, description, tags, schema, ...rest } = options;
  const registration: EndpointRegistration = { path, methods: endpointMethods(methods) };
  if (typeof handler !== 'function') {
    throw new SwitchboardError('SB_ERR_OPTIONS_INVALID', 'httpEndpoint needs a handler function');
  }
  const policy = normalizePolicy(rest);
  if (policy !== undefined) registration.policy = policy;
  return Object.assign(registration, endpointDoc({ summary, description, tags, schema }, policy));
}

function invalid(message: string, value: unknown): SwitchboardError {
  return new SwitchboardError('SB_ERR_ENDPOINT_PATH_INVALID', message, {
    data: { value: String(value) },
  });
}
