import type { HttpRequest } from '../http/http-request.ts';
import type { EndpointOptions } from '../protocol/endpoint-path.ts';
import type { JsonSchema } from '../protocol/registrations.ts';
import type { Filter, OrderBy } from './search-query.ts';

/** Items per page when the request does not say (`results_per_page`). */
export const DEFAULT_RESULTS_PER_PAGE = 10;
/** Largest `results_per_page` a request may ask for. */
export const DEFAULT_MAX_RESULTS_PER_PAGE = 100;

/** What a list handler gets: the page asked for and the parsed, checked `q`. */
export interface ListQuery {
  /** 1-based. */
  page: number;
  perPage: number;
  /** All of them hold (an implicit `and`); empty: every item. */
  filters: Filter[];
  /** Sort keys, most significant first; empty: the handler's own order. */
  orderBy: OrderBy[];
}

/** What a list handler returns: one page of items and how many match in all. */
export interface ListResult<T> {
  items: T[];
  total: number;
}

type Awaitable<T> = T | Promise<T>;

/**
 * The handlers of a resource, any subset. Each gets the request last (also `getRequest()`);
 * each may return an `HttpResponse` to answer something else (a 403, a 409) as it is.
 */
export interface ResourceHandlers<T extends object = Record<string, unknown>> {
  /** `GET path`: one page of the items matching the query. */
  list?: (query: ListQuery, request: HttpRequest) => Awaitable<ListResult<T>>;
  /** `GET path/:id`: the item, or undefined (404). */
  get?: (id: string, request: HttpRequest) => Awaitable<T | undefined>;
  /** `POST path`: stores a new item from the checked body; returns it (201 with Location). */
  create?: (body: Partial<T>, request: HttpRequest) => Awaitable<T>;
  /**
   * `PUT path/:id` (the body has every required field: replace) and `PATCH path/:id` (only the
   * fields to change); `request.method` says which. Returns the updated item, or undefined (404).
   */
  update?: (id: string, body: Partial<T>, request: HttpRequest) => Awaitable<T | undefined>;
  /** `DELETE path/:id`: true (or the removed item) when it was there (204), else false/undefined (404). */
  remove?: (id: string, request: HttpRequest) => Awaitable<unknown>;
}

/** The handler names `resource()` accepts. */
export const RESOURCE_HANDLERS = ['list', 'get', 'create', 'update', 'remove'] as const;

/**
 * Options of `resource(path, handlers, options)`: the door's endpoint options (authenticateUsers,
 * rateLimit, enableCors, tags, ...) for both of its endpoints, and the item's schema.
 */
export interface ResourceOptions extends Omit<
  EndpointOptions,
  'methods' | 'schema' | 'maxBodyBytes' | 'summary'
> {
  /**
   * JSON Schema of one item as answered (`{type: 'object', properties, required}`). Drives the
   * door's checks (create and PUT bodies: its properties without `readOnly` ones, its required
   * ones, nothing else; PATCH: the same, none required), which fields `q` may name, the
   * response checks, and the OpenAPI document. Without it any JSON object is accepted.
   */
  item?: JsonSchema;
  /** The created item's field that holds its id, for `Location`. @default 'id' */
  idField?: string;
  /** @default 10 (DEFAULT_RESULTS_PER_PAGE) */
  resultsPerPage?: number;
  /** @default 100 (DEFAULT_MAX_RESULTS_PER_PAGE) */
  maxResultsPerPage?: number;
  /** Name of the items in summaries and messages. @default the last segment of the path */
  name?: string;
}
