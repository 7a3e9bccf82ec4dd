// The conventions of a resource's answers (Flask-Restless's): reading the list request, the list
// envelope, 201 with Location, 204, and the coded 400 and 404 bodies, in the door's error shape.
import { ERROR_CODES } from '../errors/error-codes.ts';
import type { HttpRequest } from '../http/http-request.ts';
import { HttpResponse } from '../http/http-response.ts';
import type { ListQuery, ListResult } from './resource-types.ts';
import { parseSearchQuery, type SearchIssue } from './search-query.ts';

/** One problem in a request, as the door's SB_ERR_VALIDATION answers list it. */
interface Issue {
  in: 'body' | 'query';
  path: string;
  message: string;
  keyword: string;
}

export type ListQueryParse = { ok: true; value: ListQuery } | { ok: false; issue: SearchIssue };

/**
 * Reads `page`, `results_per_page` and `q` of a list request. The door has checked the first two
 * against the list's query schema already; they are checked again here for a caller that
 * bypassed it (an in-process test, say).
 */
export function listQueryOf(
  request: HttpRequest,
  fields: ReadonlySet<string> | undefined,
  defaultPerPage: number,
  maxPerPage: number,
): ListQueryParse {
  const { query } = request;
  const page = count(query.page, 1, Number.MAX_SAFE_INTEGER);
  if (page === undefined)
    return { ok: false, issue: { path: '/page', message: 'must be an integer from 1' } };
  const perPage = count(query.results_per_page, defaultPerPage, maxPerPage);
  if (perPage === undefined) {
    const message = `must be an integer from 1 to ${maxPerPage}`;
    return { ok: false, issue: { path: '/results_per_page', message } };
  }
  const search = parseSearchQuery(query.q, fields);
  if (!search.ok)
    return { ok: false, issue: { path: `/q${search.issue.path}`, message: search.issue.message } };
  return { ok: true, value: { page, perPage, ...search.query } };
}

function count(raw: string | undefined, fallback: number, max: number): number | undefined {
  if (raw === undefined || raw === '') return fallback;
  if (!/^\d{1,15}$/.test(raw)) return undefined;
  const value = Number(raw);
  return value >= 1 && value <= max ? value : undefined;
}

/** 400 SB_ERR_VALIDATION for the query string. */
export function badQuery(issue: SearchIssue): HttpResponse {
  return validation({ in: 'query', path: issue.path, message: issue.message, keyword: 'q' });
}

/** 400 SB_ERR_VALIDATION: a PUT without every required field. */
export function missingFields(
  body: Record<string, unknown>,
  required: readonly string[],
): HttpResponse | undefined {
  const missing = required.find((name) => body[name] === undefined);
  if (missing === undefined) return undefined;
  return validation({
    in: 'body',
    path: '',
    message: `must have required property '${missing}' (PUT replaces the item; PATCH changes some fields)`,
    keyword: 'required',
  });
}

function validation(issue: Issue): HttpResponse {
  return new HttpResponse(400, {
    code: 'SB_ERR_VALIDATION',
    message: `${issue.in}${issue.path} ${issue.message}`,
    errors: [issue],
  });
}

/** The list envelope of Flask-Restless. */
export function envelope<T>(result: ListResult<T>, query: ListQuery): unknown {
  if (
    typeof result !== 'object' ||
    result === null ||
    !Array.isArray(result.items) ||
    !Number.isInteger(result.total) ||
    result.total < 0
  ) {
    throw new TypeError('A resource list handler must return { items: [...], total: <integer> }');
  }
  return {
    num_results: result.total,
    total_pages: Math.ceil(result.total / query.perPage),
    page: query.page,
    objects: result.items,
  };
}

/** 201 with the created item and `Location: <request URL>/<id>` (when it has an id). */
export function created(request: HttpRequest, value: unknown, idField: string): HttpResponse {
  if (typeof value !== 'object' || value === null)
    throw new TypeError('A resource create handler must return the created item (an object)');
  const id = (value as Record<string, unknown>)[idField];
  const headers: Record<string, string> = {};
  if (typeof id === 'string' || typeof id === 'number')
    headers.location = `${request.apiOrigin}${request.path.replace(/\/+$/, '')}/${encodeURIComponent(id)}`;
  return new HttpResponse(201, value, headers);
}

export function noContent(): HttpResponse {
  return new HttpResponse(204);
}

/** 404 SB_ERR_RESOURCE_NOT_FOUND. */
export function notFound(request: HttpRequest, id: string): HttpResponse {
  const where = request.path.replace(/\/[^/]*$/, '');
  return new HttpResponse(404, {
    code: 'SB_ERR_RESOURCE_NOT_FOUND',
    message: `${ERROR_CODES.SB_ERR_RESOURCE_NOT_FOUND.message} in ${where}: ${JSON.stringify(id)}`,
  });
}
