/** Label of requests that matched no route. */
export const UNMATCHED_ROUTE = '(unmatched)';
/** Label that replaces routes past the cap. */
export const OTHER_ROUTE = '(other)';
/** Most distinct routes counted per kind; endpoints are registered patterns, so this is generous. */
const MAX_ROUTES = 2000;

type StatusCounts = Map<string, Map<number, number>>;

/**
 * HTTP responses by route pattern and status, counted when each response finishes. Routes are
 * patterns, never raw URLs, so the key space is bounded: the server's own routes by their
 * Fastify pattern (`/_/call/:name`), requests to endpoints by the endpoint's registered pattern.
 */
export class HttpTally {
  private readonly routes: StatusCounts = new Map();
  private readonly endpoints: StatusCounts = new Map();

  /** A response of one of the server's routes (`url` is its Fastify pattern). */
  route(url: string, status: number): void {
    count(this.routes, url, status);
  }

  /** A response to a request matched to the endpoint registered as `pattern`. */
  endpoint(pattern: string, status: number): void {
    count(this.endpoints, pattern, status);
  }

  /** Every (route, status, count); an endpoint's route is `prefix` + its pattern. */
  *entries(prefix: string): Generator<[route: string, status: number, count: number]> {
    for (const [url, statuses] of this.routes)
      for (const [status, n] of statuses) yield [url, status, n];
    for (const [pattern, statuses] of this.endpoints) {
      const route = pattern === OTHER_ROUTE ? pattern : prefix + pattern;
      for (const [status, n] of statuses) yield [route, status, n];
    }
  }
}

function count(counts: StatusCounts, key: string, status: number): void {
  let statuses = counts.get(key);
  if (statuses === undefined) {
    if (counts.size >= MAX_ROUTES && key !== OTHER_ROUTE) {
      count(counts, OTHER_ROUTE, status);
      return;
    }
    statuses = new Map();
    counts.set(key, statuses);
  }
  statuses.set(status, (statuses.get(status) ?? 0) + 1);
}
