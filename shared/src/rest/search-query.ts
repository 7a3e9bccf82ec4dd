// The `q` parameter of a resource's list request: Flask-Restless's search JSON, parsed and
// checked here (on the side that runs the handler) into typed filters and orderings.

/** Operators as handlers receive them (aliases such as `==`, `gte` are mapped onto these). */
export const FILTER_OPS = [
  'eq',
  'neq',
  'gt',
  'lt',
  'ge',
  'le',
  'in',
  'not_in',
  'is_null',
  'is_not_null',
  'like',
  'ilike',
  'has',
  'any',
] as const;
export type FilterOp = (typeof FILTER_OPS)[number];

/** Every spelling accepted in `op`, with the operator it means. */
const OP_ALIASES: Readonly<Record<string, FilterOp>> = {
  '==': 'eq',
  eq: 'eq',
  equals: 'eq',
  '!=': 'neq',
  neq: 'neq',
  ne: 'neq',
  '>': 'gt',
  gt: 'gt',
  '<': 'lt',
  lt: 'lt',
  '>=': 'ge',
  ge: 'ge',
  gte: 'ge',
  '<=': 'le',
  le: 'le',
  lte: 'le',
  in: 'in',
  not_in: 'not_in',
  is_null: 'is_null',
  is_not_null: 'is_not_null',
  like: 'like',
  ilike: 'ilike',
  has: 'has',
  any: 'any',
};

/** The accepted spellings of `op`, as listed in errors and docs/rest.md. */
export const FILTER_OP_SPELLINGS: readonly string[] = Object.keys(OP_ALIASES);

/**
 * One condition on one field, in Flask-Restless's own shape (so a handler may pass it on to a
 * library that speaks it), with `op` mapped to its canonical name. `val` is absent for
 * `is_null`/`is_not_null`, an array for `in`/`not_in`, a string for `like`/`ilike` (`%` any run,
 * `_` one character). For `has` (the field is an object) `val` is a nested FieldFilter on the
 * object's fields; for `any` (the field is an array) an object `val` is a nested FieldFilter one
 * element must match, anything else a value one element must equal.
 */
export interface FieldFilter {
  name: string;
  op: FilterOp;
  val?: unknown;
}

/** All of `and` hold. */
export interface AndFilter {
  and: Filter[];
}

/** At least one of `or` holds. */
export interface OrFilter {
  or: Filter[];
}

/** A condition: tell them apart with `'and' in filter`, `'or' in filter`, else a FieldFilter. */
export type Filter = FieldFilter | AndFilter | OrFilter;

export interface OrderBy {
  field: string;
  direction: 'asc' | 'desc';
}

/** A parsed `q`: the top-level filters all hold (an implicit `and`). */
export interface SearchQuery {
  filters: Filter[];
  orderBy: OrderBy[];
}

/** Where and why a `q` was refused (`path` is a JSON Pointer into the q object). */
export interface SearchIssue {
  path: string;
  message: string;
}

export type SearchParse = { ok: true; query: SearchQuery } | { ok: false; issue: SearchIssue };

/** Most filters (field conditions, and/or groups) in one q. */
export const MAX_FILTERS = 100;
/** Deepest nesting of and/or groups. */
export const MAX_FILTER_DEPTH = 8;
/** Most order_by entries. */
export const MAX_ORDER_BY = 10;

const TOP_KEYS = new Set(['filters', 'order_by']);
const FILTER_KEYS = new Set(['name', 'op', 'val']);
const NO_VALUE: ReadonlySet<FilterOp> = new Set(['is_null', 'is_not_null']);
const ORDERED: ReadonlySet<FilterOp> = new Set(['gt', 'lt', 'ge', 'le']);

/** Thrown inside the parser only; parseSearchQuery turns it into its result. */
class Refusal extends Error {
  constructor(readonly issue: SearchIssue) {
    super(issue.message);
  }
}

/**
 * Parses `q` (absent or empty: no filters, no order). `fields` are the names a filter or an
 * ordering may use (the item schema's properties); undefined allows any name.
 */
export function parseSearchQuery(
  q: string | undefined,
  fields: ReadonlySet<string> | undefined,
): SearchParse {
  if (q === undefined || q.trim() === '') return { ok: true, query: { filters: [], orderBy: [] } };
  let raw: unknown;
  try {
    raw = JSON.parse(q);
  } catch (error) {
    const reason = error instanceof Error ? error.message : String(error);
    return { ok: false, issue: { path: '', message: `is not valid JSON: ${reason}` } };
  }
  try {
    return { ok: true, query: new Parser(fields).top(raw) };
  } catch (error) {
    if (error instanceof Refusal) return { ok: false, issue: error.issue };
    throw error;
  }
}

class Parser {
  private count = 0;

  constructor(private readonly fields: ReadonlySet<string> | undefined) {}

  top(raw: unknown): SearchQuery {
    const value = object(raw, '', 'must be an object like {"filters": [...], "order_by": [...]}');
    for (const key of Object.keys(value)) {
      if (!TOP_KEYS.has(key))
        refuse(
          `/${key}`,
          'is not supported; q takes filters and order_by (paging: page, results_per_page)',
        );
    }
    const filters = value.filters === undefined ? [] : this.list(value.filters, '/filters', 0);
    const orderBy = value.order_by === undefined ? [] : this.orderBy(value.order_by);
    return { filters, orderBy };
  }

  private list(raw: unknown, path: string, depth: number): Filter[] {
    if (!Array.isArray(raw)) refuse(path, 'must be an array of filters');
    if (depth > MAX_FILTER_DEPTH) refuse(path, `is nested deeper than ${MAX_FILTER_DEPTH} levels`);
    return (raw as unknown[]).map((item, index) => this.filter(item, `${path}/${index}`, depth));
  }

  private filter(raw: unknown, path: string, depth: number): Filter {
    if (++this.count > MAX_FILTERS) refuse(path, `is one filter too many (at most ${MAX_FILTERS})`);
    const value = object(
      raw,
      path,
      'must be a filter object ({name, op, val}, {and: [...]} or {or: [...]})',
    );
    const keys = Object.keys(value);
    if (keys.length === 1 && (keys[0] === 'and' || keys[0] === 'or')) {
      const group = keys[0];
      const filters = this.list(value[group], `${path}/${group}`, depth + 1);
      return group === 'and' ? { and: filters } : { or: filters };
    }
    return this.field(value, path, true);
  }

  private field(value: Record<string, unknown>, path: string, checkName: boolean): FieldFilter {
    for (const key of Object.keys(value)) {
      if (!FILTER_KEYS.has(key))
        refuse(`${path}/${key}`, 'is not supported in a filter (use name, op, val; and, or)');
    }
    const { name, op: rawOp, val } = value;
    if (typeof name !== 'string' || name === '') refuse(`${path}/name`, 'must be a field name');
    if (checkName && this.fields !== undefined && !this.fields.has(name))
      refuse(`${path}/name`, `names no field of the item: ${JSON.stringify(name)}`);
    const op = typeof rawOp === 'string' ? OP_ALIASES[rawOp] : undefined;
    if (op === undefined)
      refuse(
        `${path}/op`,
        `is not a known operator: ${JSON.stringify(rawOp)} (use ${FILTER_OP_SPELLINGS.join(' ')})`,
      );
    const filter: FieldFilter = { name, op };
    const valPath = `${path}/val`;
    if (NO_VALUE.has(op)) {
      if (val !== undefined) refuse(valPath, `must be absent for ${op}`);
      return filter;
    }
    if (val === undefined) refuse(valPath, `is required for ${op}`);
    if ((op === 'in' || op === 'not_in') && !Array.isArray(val))
      refuse(valPath, `must be an array for ${op}`);
    if ((op === 'like' || op === 'ilike') && typeof val !== 'string')
      refuse(valPath, `must be a string pattern for ${op}`);
    if (ORDERED.has(op) && typeof val !== 'number' && typeof val !== 'string')
      refuse(valPath, `must be a number or a string for ${op}`);
    if (op === 'has' || (op === 'any' && isObject(val))) {
      // The nested condition is on the related object's own fields, unknown to the item schema;
      // it counts as one more filter (nested has within has is bounded like and/or).
      if (++this.count > MAX_FILTERS)
        refuse(valPath, `is one filter too many (at most ${MAX_FILTERS})`);
      filter.val = this.field(
        object(val, valPath, `must be a filter {name, op, val} for ${op}`),
        valPath,
        false,
      );
      return filter;
    }
    filter.val = val;
    return filter;
  }

  private orderBy(raw: unknown): OrderBy[] {
    if (!Array.isArray(raw)) refuse('/order_by', 'must be an array of {field, direction}');
    const items = raw as unknown[];
    if (items.length > MAX_ORDER_BY) refuse('/order_by', `has more than ${MAX_ORDER_BY} entries`);
    return items.map((item, index) => {
      const path = `/order_by/${index}`;
      const value = object(item, path, 'must be {field, direction}');
      for (const key of Object.keys(value)) {
        if (key !== 'field' && key !== 'direction')
          refuse(`${path}/${key}`, 'is not supported (use field, direction)');
      }
      const { field, direction = 'asc' } = value;
      if (typeof field !== 'string' || field === '')
        refuse(`${path}/field`, 'must be a field name');
      if (this.fields !== undefined && !this.fields.has(field))
        refuse(`${path}/field`, `names no field of the item: ${JSON.stringify(field)}`);
      if (direction !== 'asc' && direction !== 'desc')
        refuse(`${path}/direction`, 'must be "asc" or "desc"');
      return { field, direction };
    });
  }
}

function object(raw: unknown, path: string, message: string): Record<string, unknown> {
  if (!isObject(raw)) refuse(path, message);
  return raw;
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function refuse(path: string, message: string): never {
  throw new Refusal({ path, message });
}
