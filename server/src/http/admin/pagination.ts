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
  const page = pageOf(query);
  const totalPages = pagesOf(items.length, page);
  const start = (page - 1) * PAGE_SIZE;
  return {
    objects: items.slice(start, start + PAGE_SIZE).map(view),
    num_results: items.length,
    page,
    total_pages: totalPages,
  };
}

/**
 * The same page of a list the store pages itself (`read(page, perPage)` answers that page and
 * how many there are in all): the same page size, errors and envelope as `paginate`.
 */
export function paginateStored<T, R>(
  query: unknown,
  read: (page: number, perPage: number) => { items: T[]; total: number },
  view: (item: T) => R,
): Page<R> {
  const page = pageOf(query);
  const { items, total } = read(page, PAGE_SIZE);
  return { objects: items.map(view), num_results: total, page, total_pages: pagesOf(total, page) };
}

/** How many pages `count` objects make; SB_ERR_HTTP_NOT_FOUND if `page` is past the last. */
function pagesOf(count: number, page: number): number {
  const totalPages = Math.max(1, Math.ceil(count / PAGE_SIZE));
  if (page > totalPages) {
    throw new SwitchboardError(
      'SB_ERR_HTTP_NOT_FOUND',
      `Page ${page} does not exist; there ${totalPages === 1 ? 'is 1 page' : `are ${totalPages} pages`}`,
    );
  }
  return totalPages;
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
