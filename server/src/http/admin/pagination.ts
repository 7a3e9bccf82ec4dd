import { SwitchboardError } from '@switchboard/shared';

/** Objects per page of every admin list. */
export const PAGE_SIZE = 50;

/** One page of an admin list, as the API answers it. */
export interface Page<T> {
  objects: T[];
  num_results: number;
  page: number;
  total_pages: number;
}

/**
 * Page `?page=` (1-based, default 1) of `items`. A page that is not a positive integer is
 * SB_ERR_ADMIN_BAD_REQUEST; one past the last is SB_ERR_HTTP_NOT_FOUND (page 1 always exists,
 * empty for an empty list).
 */
export function paginate<T, R>(items: readonly T[], query: unknown, view: (item: T) => R): Page<R> {
  const page = pageFrom(query, ({ offset, perPage }) => ({
    total: items.length,
    items: items.slice(offset, offset + perPage),
  }));
  return { ...page, objects: page.objects.map(view) };
}

/** Which page to read: its number (from 1), its size, and the index of its first item. */
export interface PageRequest {
  page: number;
  perPage: number;
  offset: number;
}

/**
 * The same page of a list read a page at a time (a query with LIMIT and OFFSET): `read` gives
 * the page's items and how many there are in all.
 */
export function pageFrom<T>(
  query: unknown,
  read: (request: PageRequest) => { total: number; items: T[] },
): Page<T> {
  const page = pageOf(query);
  const { total, items } = read({ page, perPage: PAGE_SIZE, offset: (page - 1) * PAGE_SIZE });
  const totalPages = Math.max(1, Math.ceil(total / PAGE_SIZE));
  if (page > totalPages) {
    throw new SwitchboardError(
      'SB_ERR_HTTP_NOT_FOUND',
      `Page ${page} does not exist; there ${totalPages === 1 ? 'is 1 page' : `are ${totalPages} pages`}`,
    );
  }
  return { objects: items, num_results: total, page, total_pages: totalPages };
}

function pageOf(query: unknown): number {
  const raw = (query as { page?: unknown } | undefined)?.page;
  if (raw === undefined) return 1;
  const page = typeof raw === 'string' && /^[1-9]\d{0,8}$/.test(raw) ? Number(raw) : NaN;
  if (!Number.isSafeInteger(page)) {
    throw new SwitchboardError(
      'SB_ERR_ADMIN_BAD_REQUEST',
      `page must be a positive integer, got ${JSON.stringify(raw)}`,
    );
  }
  return page;
}
