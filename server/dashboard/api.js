// The admin API client: `Authorization: Token`, coded errors, bounded waits and page counts.

/** Relative to the page (`/_/admin/`), so the dashboard works wherever the server is mounted. */
const API_BASE = 'api/v1/';
const REQUEST_TIMEOUT_MS = 8000;
/** Lists are read up to this many pages (50 objects each) per poll. */
const MAX_PAGES = 10;

/** A refused or failed request: `status` 0 means the server did not answer at all. */
export class ApiError extends Error {
  constructor(status, code, message, retryAfterSeconds) {
    super(message);
    this.status = status;
    this.code = code;
    this.retryAfterSeconds = retryAfterSeconds;
  }

  get unreachable() {
    return this.status === 0 || this.status >= 500;
  }
}

async function errorOf(response) {
  let body = null;
  try {
    body = await response.json();
  } catch {
    // not JSON: a proxy's page or an empty body; the status says enough
  }
  const code = body && typeof body.code === 'string' ? body.code : `HTTP_${response.status}`;
  const message =
    body && typeof body.message === 'string' ? body.message : `HTTP ${response.status}`;
  const retryAfter = Number(response.headers.get('retry-after'));
  return new ApiError(response.status, code, message, retryAfter > 0 ? retryAfter : undefined);
}

/** One request; resolves with the parsed JSON body (null for 204), throws ApiError. */
export async function request(token, method, path) {
  const controller = new AbortController();
  const timer = setTimeout(() => controller.abort(), REQUEST_TIMEOUT_MS);
  let response;
  try {
    response = await fetch(API_BASE + path, {
      method,
      headers: { authorization: `Token ${token}`, accept: 'application/json' },
      cache: 'no-store',
      credentials: 'omit',
      signal: controller.signal,
    });
  } catch (error) {
    throw new ApiError(0, 'UNREACHABLE', `The server does not answer (${error.message})`);
  } finally {
    clearTimeout(timer);
  }
  if (!response.ok) throw await errorOf(response);
  return response.status === 204 ? null : response.json();
}

/** Every object of a paginated list, up to MAX_PAGES pages. */
export async function list(token, path) {
  const objects = [];
  let totalPages = 1;
  for (let page = 1; page <= Math.min(totalPages, MAX_PAGES); page++) {
    const body = await request(token, 'GET', page === 1 ? path : `${path}?page=${page}`);
    if (!body || !Array.isArray(body.objects)) {
      throw new ApiError(0, 'BAD_ANSWER', `${path} did not answer with a list`);
    }
    objects.push(...body.objects);
    totalPages = Number(body.total_pages) || 1;
  }
  return { objects, truncated: totalPages > MAX_PAGES, pages: Math.min(totalPages, MAX_PAGES) };
}

/** What a snapshot reads; app.js shows each in the table of the same id. */
export const LISTS = ['uplinks', 'functions', 'endpoints', 'errors', 'keys'];

/** A list this server does not have (an older version): shown as unavailable, not fatal. */
async function optionalList(token, path) {
  try {
    return await list(token, path);
  } catch (error) {
    if (error instanceof ApiError && error.status === 404) {
      return { objects: [], truncated: false, missing: true, pages: 1 };
    }
    throw error;
  }
}

/**
 * `cluster/` (one object, not a list): the answer of a server of a cluster, else null, for a
 * server on its own (`clustered: false`) and for one without the route (404, an older version).
 */
async function clusterOf(token) {
  try {
    const body = await request(token, 'GET', 'cluster/');
    return body && body.clustered === true ? body : null;
  } catch (error) {
    if (error instanceof ApiError && error.status === 404) return null;
    throw error;
  }
}

/** The first page of `tasks/` (the newest 50 tasks): one request whatever their number. */
async function recentTasks(token) {
  try {
    const body = await request(token, 'GET', 'tasks/');
    if (!body || !Array.isArray(body.objects)) {
      throw new ApiError(0, 'BAD_ANSWER', 'tasks/ did not answer with a list');
    }
    return { objects: body.objects, total: Number(body.num_results) || 0, pages: 1 };
  } catch (error) {
    if (error instanceof ApiError && error.status === 404) {
      return { objects: [], total: 0, missing: true, pages: 1 };
    }
    throw error;
  }
}

/**
 * Everything the dashboard shows, read in parallel. `pages`: the most requests one list took,
 * which stretches the poll interval so each list is read at one request per interval whatever
 * its length (the admin API limits reads per route).
 */
export async function snapshot(token) {
  const [cluster, tasks, ...lists] = await Promise.all([
    clusterOf(token),
    recentTasks(token),
    ...LISTS.map((name) => optionalList(token, `${name}/`)),
  ]);
  const [uplinks, functions, endpoints, errors, keys] = lists;
  const pages = Math.max(...lists.map((l) => l.pages));
  return { uplinks, functions, endpoints, errors, keys, tasks, cluster, pages, at: Date.now() };
}
