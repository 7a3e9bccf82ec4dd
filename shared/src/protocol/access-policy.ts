import { SwitchboardError } from '../errors/switchboard-error.ts';
import type {
  EndpointPolicy,
  FunctionAccess,
  FunctionRegistration,
  FunctionSignature,
  JsonSchema,
  EndpointRateLimit,
} from './registrations.ts';

/** The access of a function registered without options: server keys and app code only. */
export const SERVER_ONLY: FunctionAccess = Object.freeze({
  allowClients: false,
  requireUser: 'no',
});

/** What `callable(name, fn, options)` accepts (uplinks and app code alike). */
export interface CallableOptions<U = unknown> {
  /** Client keys and HTTP callers without a server key may call it. @default false */
  allowClients?: boolean;
  /**
   * For such callers: `true` needs a signed-in user (SB_ERR_AUTH_REQUIRED), a function also
   * decides whether that user may call (false → SB_ERR_PERMISSION_DENIED). Checked before the
   * function runs; app code and server keys are trusted and skip it. @default false
   */
  requireUser?: boolean | ((user: U) => boolean | Promise<boolean>);
  /**
   * JSON Schemas the server checks the arguments against before any provider sees the call
   * (SB_ERR_VALIDATION): an array, one schema per positional argument (no more arguments
   * accepted); or one schema for the whole arguments array. Published in /_/functions.json.
   */
  args?: JsonSchema[] | JsonSchema;
  /** JSON Schema of the result, published for callers (`switchboard types`); not enforced. */
  returns?: JsonSchema;
}

/** Checks `callable` options; throws SB_ERR_OPTIONS_INVALID. */
export function accessOf(options: CallableOptions<never> | undefined): FunctionAccess {
  if (options === undefined) return SERVER_ONLY;
  if (typeof options !== 'object' || options === null)
    throw invalid('callable options must be an object');
  const { allowClients = false, requireUser = false } = options;
  if (typeof allowClients !== 'boolean') throw invalid('allowClients must be a boolean');
  if (typeof requireUser !== 'boolean' && typeof requireUser !== 'function')
    throw invalid('requireUser must be a boolean or a function');
  return {
    allowClients,
    requireUser: requireUser === false ? 'no' : requireUser === true ? 'yes' : 'check',
  };
}

/**
 * The registration of `name` with `access` (and its schemas), omitting defaults to keep frames
 * small.
 */
export function functionRegistration(
  name: string,
  access: FunctionAccess,
  signature?: FunctionSignature,
): FunctionRegistration {
  const registration: FunctionRegistration = { name };
  if (access.allowClients) registration.allowClients = true;
  if (access.requireUser !== 'no') registration.requireUser = access.requireUser;
  if (signature?.args !== undefined) registration.args = signature.args;
  if (signature?.returns !== undefined) registration.returns = signature.returns;
  return registration;
}

export function sameAccess(a: FunctionAccess, b: FunctionAccess): boolean {
  return a.allowClients === b.allowClients && a.requireUser === b.requireUser;
}

const POLICY_KEYS = new Set([
  'requireCredentials',
  'authenticateUsers',
  'crossSiteSession',
  'enableCors',
  'rateLimit',
  'maxBodyBytes',
]);

/**
 * Checks an endpoint policy and returns it without unset fields (undefined when nothing is
 * set), so equal policies compare equal. Throws SB_ERR_OPTIONS_INVALID.
 */
export function normalizePolicy(value: unknown): EndpointPolicy | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== 'object' || value === null) throw invalid('policy must be a map');
  const raw = value as Record<string, unknown>;
  const policy: EndpointPolicy = {};
  for (const key of ['requireCredentials', 'authenticateUsers', 'crossSiteSession'] as const) {
    const flag = raw[key];
    if (flag === undefined || flag === false) continue;
    if (flag !== true) throw invalid(`${key} must be a boolean`);
    policy[key] = true;
  }
  const cors = raw.enableCors;
  if (cors !== undefined && cors !== false) {
    if (cors !== true && !isOrigin(cors))
      throw invalid('enableCors must be true or an origin such as https://app.example.com');
    policy.enableCors = cors;
  }
  const limit = raw.rateLimit;
  if (limit !== undefined) policy.rateLimit = endpointRateLimitOf(limit);
  const maxBodyBytes = raw.maxBodyBytes;
  if (maxBodyBytes !== undefined) {
    if (!Number.isSafeInteger(maxBodyBytes) || (maxBodyBytes as number) < 1)
      throw invalid('maxBodyBytes must be a positive integer');
    policy.maxBodyBytes = maxBodyBytes as number;
  }
  for (const key of Object.keys(raw)) {
    if (!POLICY_KEYS.has(key)) throw invalid(`unknown endpoint option ${JSON.stringify(key)}`);
  }
  return Object.keys(policy).length === 0 ? undefined : policy;
}

/** Checks `{ max, windowMs }`; throws SB_ERR_OPTIONS_INVALID. */
export function rateLimitOf(value: unknown, what: string): { max: number; windowMs: number } {
  const limit = value as { max?: unknown; windowMs?: unknown } | null;
  if (
    typeof limit !== 'object' ||
    limit === null ||
    !Number.isSafeInteger(limit.max) ||
    (limit.max as number) < 1 ||
    !Number.isSafeInteger(limit.windowMs) ||
    (limit.windowMs as number) < 1
  ) {
    throw invalid(`${what} must be { max, windowMs } with positive integers`);
  }
  return { max: limit.max as number, windowMs: limit.windowMs as number };
}

/** Window of each unit a `perToken` rate may be written in. */
const RATE_UNITS: Readonly<Record<string, number>> = { s: 1000, min: 60_000, h: 3_600_000 };
const RATE_PATTERN = /^\s*([1-9]\d{0,8})\s*\/\s*(s|min|h)\s*$/;

/**
 * A rate written `N/s`, `N/min` or `N/h` (`'40/min'`) as a limit; throws SB_ERR_OPTIONS_INVALID
 * naming `what`.
 */
export function rateOf(value: unknown, what: string): { max: number; windowMs: number } {
  const match = typeof value === 'string' ? RATE_PATTERN.exec(value) : null;
  if (match === null)
    throw invalid(`${what} must be a rate such as "40/min" (N/s, N/min or N/h, N ≥ 1)`);
  return { max: Number(match[1]), windowMs: RATE_UNITS[match[2]!]! };
}

/** `{ max, windowMs }` per address, `{ perToken: 'N/unit' }` per token, or both. */
function endpointRateLimitOf(value: unknown): EndpointRateLimit {
  const raw = (typeof value === 'object' && value !== null ? value : {}) as Record<string, unknown>;
  const { perToken } = raw;
  if (perToken === undefined && raw.max === undefined && raw.windowMs === undefined)
    throw invalid('rateLimit must be { max, windowMs }, { perToken: "40/min" } or both');
  if (perToken === undefined) return rateLimitOf(value, 'rateLimit');
  rateOf(perToken, 'rateLimit.perToken');
  const canonical = (perToken as string).replace(/\s+/g, ''); // '40 / min' → '40/min'
  if (raw.max === undefined && raw.windowMs === undefined) return { perToken: canonical };
  return { ...rateLimitOf(value, 'rateLimit'), perToken: canonical };
}

export function samePolicy(a: EndpointPolicy | undefined, b: EndpointPolicy | undefined): boolean {
  if (a === undefined || b === undefined) return a === b;
  return (
    a.requireCredentials === b.requireCredentials &&
    a.authenticateUsers === b.authenticateUsers &&
    a.crossSiteSession === b.crossSiteSession &&
    a.enableCors === b.enableCors &&
    a.rateLimit?.max === b.rateLimit?.max &&
    a.rateLimit?.windowMs === b.rateLimit?.windowMs &&
    a.rateLimit?.perToken === b.rateLimit?.perToken &&
    a.maxBodyBytes === b.maxBodyBytes
  );
}

function isOrigin(value: unknown): value is string {
  if (typeof value !== 'string') return false;
  try {
    const url = new URL(value);
    return (url.protocol === 'http:' || url.protocol === 'https:') && url.origin === value;
  } catch {
    return false;
  }
}

function invalid(message: string): SwitchboardError {
  return new SwitchboardError('SB_ERR_OPTIONS_INVALID', message);
}
