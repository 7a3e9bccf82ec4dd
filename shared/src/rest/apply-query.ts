import { canonicalJson } from '../protocol/endpoint-doc.ts';
import type { ListQuery, ListResult } from './resource-types.ts';
import type { FieldFilter, Filter, OrderBy } from './search-query.ts';

/**
 * Answers a list request from items held in memory: keeps those matching every filter, sorts
 * them by `orderBy` (stable; null and missing values first, as SQLite does), and returns the
 * requested page with the total before paging. Handlers over a database translate the same
 * `filters` to their query language instead.
 */
export function applyListQuery<T extends object>(
  items: Iterable<T>,
  query: Pick<ListQuery, 'page' | 'perPage' | 'filters' | 'orderBy'>,
): ListResult<T> {
  const kept = [...items].filter((item) => query.filters.every((filter) => matches(item, filter)));
  if (query.orderBy.length > 0) kept.sort((a, b) => compareBy(a, b, query.orderBy));
  const start = (query.page - 1) * query.perPage;
  return { items: kept.slice(start, start + query.perPage), total: kept.length };
}

/** Whether `item` satisfies `filter`. */
export function matchesFilter(item: object, filter: Filter): boolean {
  return matches(item, filter);
}

function matches(item: object, filter: Filter): boolean {
  if ('and' in filter) return filter.and.every((inner) => matches(item, inner));
  if ('or' in filter) return filter.or.some((inner) => matches(item, inner));
  return holds((item as Record<string, unknown>)[filter.name], filter);
}

function holds(value: unknown, filter: FieldFilter): boolean {
  const { val } = filter;
  switch (filter.op) {
    case 'eq':
      return same(value, val);
    case 'neq':
      return !same(value, val);
    case 'gt':
      return ordered(value, val, (order) => order > 0);
    case 'lt':
      return ordered(value, val, (order) => order < 0);
    case 'ge':
      return ordered(value, val, (order) => order >= 0);
    case 'le':
      return ordered(value, val, (order) => order <= 0);
    case 'in':
      return (val as unknown[]).some((each) => same(value, each));
    case 'not_in':
      return !(val as unknown[]).some((each) => same(value, each));
    case 'is_null':
      return value === null || value === undefined;
    case 'is_not_null':
      return value !== null && value !== undefined;
    case 'like':
      return typeof value === 'string' && likePattern(val as string, '').test(value);
    case 'ilike':
      return typeof value === 'string' && likePattern(val as string, 'i').test(value);
    case 'has':
      return typeof value === 'object' && value !== null && matches(value, val as FieldFilter);
    case 'any':
      if (!Array.isArray(value)) return false;
      return (value as unknown[]).some((element) =>
        isObject(val)
          ? isObject(element) && matches(element, val as unknown as FieldFilter)
          : same(element, val),
      );
  }
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function same(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (typeof a !== 'object' || typeof b !== 'object' || a === null || b === null) return false;
  return canonicalJson(a) === canonicalJson(b);
}

/** Numbers with numbers, strings with strings; anything else never matches an ordering. */
function ordered(a: unknown, b: unknown, test: (order: number) => boolean): boolean {
  if (typeof a === 'number' && typeof b === 'number') return test(a - b);
  if (typeof a === 'string' && typeof b === 'string') return test(a < b ? -1 : a > b ? 1 : 0);
  return false;
}

/** SQL LIKE: `%` any run of characters, `_` exactly one; the rest literal. */
function likePattern(pattern: string, flags: string): RegExp {
  let source = '';
  for (const char of pattern) {
    if (char === '%') source += '.*';
    else if (char === '_') source += '.';
    else source += char.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  }
  return new RegExp(`^${source}$`, `s${flags}`);
}

function compareBy(a: object, b: object, orderBy: readonly OrderBy[]): number {
  for (const { field, direction } of orderBy) {
    const order = compareValues(
      (a as Record<string, unknown>)[field],
      (b as Record<string, unknown>)[field],
    );
    if (order !== 0) return direction === 'asc' ? order : -order;
  }
  return 0;
}

function compareValues(a: unknown, b: unknown): number {
  const aNull = a === null || a === undefined;
  const bNull = b === null || b === undefined;
  if (aNull || bNull) return aNull === bNull ? 0 : aNull ? -1 : 1;
  if (typeof a === 'number' && typeof b === 'number') return a - b;
  if (typeof a === 'boolean' && typeof b === 'boolean') return Number(a) - Number(b);
  const x = typeof a === 'string' ? a : canonicalJson(a);
  const y = typeof b === 'string' ? b : canonicalJson(b);
  return x < y ? -1 : x > y ? 1 : 0;
}
