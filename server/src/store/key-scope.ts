import { SwitchboardError, endpointShape, isFunctionName } from '@switchboard/shared';

/**
 * What a scoped server key may register: function names and endpoint paths, each pattern an
 * exact name (`ocr`, `/status`) or a prefix ending in `*` (`gpu.*`, `/gpu/*`; a lone `*` or `/*`
 * allows every name or path). A key without a scope (null) may register anything. A scoped key
 * may register only what its lists allow: an empty list allows nothing of that kind.
 */
export interface KeyScope {
  readonly functions: readonly string[];
  readonly endpoints: readonly string[];
}

/** What a scope is given as: lists, or comma-separated text (the CLI's `--functions a,b*`). */
export interface ScopeInput {
  functions?: string | readonly string[] | undefined;
  endpoints?: string | readonly string[] | undefined;
}

/** Patterns per list: enough for any real deployment, small enough to print in a table. */
export const MAX_SCOPE_PATTERNS = 100;
const MAX_ENDPOINT_PATTERN_LENGTH = 500;

/**
 * The scope described by `input`, or null (unscoped) when it names neither list. Throws
 * SB_ERR_KEY_INVALID for a pattern that could never match (not a function name or path, or a
 * `*` anywhere but at the end) or too many patterns.
 */
export function parseScope(input: ScopeInput | null | undefined): KeyScope | null {
  if (input === null || input === undefined) return null;
  if (input.functions === undefined && input.endpoints === undefined) return null;
  return Object.freeze({
    functions: Object.freeze(patterns(input.functions, 'functions', checkFunctionPattern)),
    endpoints: Object.freeze(patterns(input.endpoints, 'endpoints', checkEndpointPattern)),
  });
}

/** Whether `scope` lets a key register function `name`. */
export function allowsFunction(scope: KeyScope | null, name: string): boolean {
  return scope === null || scope.functions.some((pattern) => matches(pattern, name));
}

/** Whether `scope` lets a key register endpoint pattern `path` (compared as written). */
export function allowsEndpoint(scope: KeyScope | null, path: string): boolean {
  return scope === null || scope.endpoints.some((pattern) => matches(pattern, path));
}

/**
 * SB_ERR_PERMISSION_DENIED naming every function and path of a registration outside `scope`
 * (`data: { functions, endpoints }`), or undefined when the scope allows all of it.
 */
export function scopeRefusal(
  scope: KeyScope | null,
  keyName: string,
  functions: readonly string[],
  paths: readonly string[],
): SwitchboardError | undefined {
  if (scope === null) return undefined;
  const refusedFunctions = functions.filter((name) => !allowsFunction(scope, name));
  const refusedEndpoints = paths.filter((path) => !allowsEndpoint(scope, path));
  if (refusedFunctions.length + refusedEndpoints.length === 0) return undefined;
  const named = [...refusedFunctions, ...refusedEndpoints].map((item) => JSON.stringify(item));
  return new SwitchboardError(
    'SB_ERR_PERMISSION_DENIED',
    `Key ${JSON.stringify(keyName)} may not register ${named.join(', ')} (outside its scope: ${describeScope(scope)}); nothing was registered`,
    { data: { functions: refusedFunctions, endpoints: refusedEndpoints } },
  );
}

/** One line for tables and logs: `all`, or `functions gpu.*,ocr; endpoints /gpu/*`. */
export function describeScope(scope: KeyScope | null): string {
  if (scope === null) return 'all';
  const list = (items: readonly string[]) => (items.length === 0 ? '(none)' : items.join(','));
  return `functions ${list(scope.functions)}; endpoints ${list(scope.endpoints)}`;
}

/** The scope as stored in the `keys.scope` column (JSON), or null for unscoped. */
export function scopeToColumn(scope: KeyScope | null): string | null {
  return scope === null ? null : JSON.stringify(scope);
}

/**
 * The scope read back from the column. A value that does not parse (a hand-edited row) allows
 * nothing rather than everything.
 */
export function scopeFromColumn(column: string | null): KeyScope | null {
  if (column === null) return null;
  try {
    const parsed = JSON.parse(column) as { functions?: unknown; endpoints?: unknown };
    const functions = Array.isArray(parsed.functions) ? (parsed.functions as string[]) : [];
    const endpoints = Array.isArray(parsed.endpoints) ? (parsed.endpoints as string[]) : [];
    return parseScope({ functions, endpoints }) ?? { functions: [], endpoints: [] };
  } catch {
    return Object.freeze({ functions: Object.freeze([]), endpoints: Object.freeze([]) });
  }
}

function matches(pattern: string, value: string): boolean {
  return pattern.endsWith('*') ? value.startsWith(pattern.slice(0, -1)) : value === pattern;
}

function patterns(
  value: string | readonly string[] | undefined,
  what: string,
  check: (pattern: string) => boolean,
): string[] {
  if (value === undefined) return [];
  if (typeof value !== 'string' && !Array.isArray(value)) {
    throw invalid(`A key's ${what} scope is a list of patterns or comma-separated text`);
  }
  const items = typeof value === 'string' ? value.split(',') : (value as readonly unknown[]);
  const result: string[] = [];
  for (const item of items) {
    if (typeof item !== 'string') throw invalid(`A key's ${what} scope holds only strings`);
    const pattern = item.trim();
    if (pattern === '') continue;
    if (!check(pattern)) {
      throw invalid(
        `${JSON.stringify(pattern)} is not a ${what} pattern: an exact ${what === 'functions' ? 'function name' : 'endpoint path'}, or a prefix ending in *`,
      );
    }
    if (!result.includes(pattern)) result.push(pattern);
  }
  if (result.length > MAX_SCOPE_PATTERNS) {
    throw invalid(`A key's ${what} scope holds at most ${MAX_SCOPE_PATTERNS} patterns`);
  }
  return result;
}

function checkFunctionPattern(pattern: string): boolean {
  if (!pattern.endsWith('*')) return isFunctionName(pattern);
  const prefix = pattern.slice(0, -1);
  return prefix === '' || isFunctionName(prefix);
}

function checkEndpointPattern(pattern: string): boolean {
  if (!pattern.endsWith('*')) {
    try {
      endpointShape(pattern);
      return true;
    } catch {
      return false;
    }
  }
  const prefix = pattern.slice(0, -1);
  return (
    prefix.startsWith('/') &&
    prefix.length <= MAX_ENDPOINT_PATTERN_LENGTH &&
    !/[\s*]/.test(prefix) &&
    ![...prefix].some((char) => char.charCodeAt(0) < 0x20 || char.charCodeAt(0) === 0x7f)
  );
}

function invalid(message: string): SwitchboardError {
  return new SwitchboardError('SB_ERR_KEY_INVALID', message);
}
