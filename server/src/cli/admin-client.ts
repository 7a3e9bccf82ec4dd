import { SwitchboardError, isErrorCode } from '@switchboard/shared';

/** Pages a list is followed through at most (50 objects each). */
const MAX_PAGES = 100;
/** How long one request to the admin API may take. */
const REQUEST_TIMEOUT_MS = 10_000;

/** A minimal client of the admin API, for `switchboard status`, `tasks` and `schedules run-now`. */
export class AdminClient {
  private readonly base: string;

  constructor(
    url: string,
    private readonly token: string,
  ) {
    this.base = `${url.replace(/\/+$/, '')}/_/admin/api/v1/`;
  }

  /** GET `path`; an error answer becomes a SwitchboardError with its code. */
  get<T>(path: string): Promise<T> {
    return this.send<T>('GET', path);
  }

  /** DELETE `path`, for routes that answer with a body (as `tasks/{id}/` does). */
  delete<T>(path: string): Promise<T> {
    return this.send<T>('DELETE', path);
  }

  /** POST `path` with no body (as `schedules/{id}/run/` takes). */
  post<T>(path: string): Promise<T> {
    return this.send<T>('POST', path);
  }

  private async send<T>(method: 'GET' | 'DELETE' | 'POST', path: string): Promise<T> {
    let response: Response;
    try {
      response = await fetch(this.base + path, {
        method,
        headers: { authorization: `Token ${this.token}`, accept: 'application/json' },
        signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS),
      });
    } catch (error) {
      const cause =
        error instanceof Error ? ((error.cause as Error)?.message ?? error.message) : String(error);
      throw new SwitchboardError('SB_ERR_CONNECTION_FAILED', `Cannot reach ${this.base}: ${cause}`);
    }
    const text = await response.text();
    let body: unknown;
    try {
      body = JSON.parse(text);
    } catch {
      body = undefined;
    }
    if (response.ok && body !== undefined) return body as T;
    const { code, message } = (body ?? {}) as { code?: unknown; message?: unknown };
    throw new SwitchboardError(
      isErrorCode(code) ? code : 'SB_ERR_INTERNAL',
      typeof message === 'string' ? message : `HTTP ${response.status} from ${this.base + path}`,
    );
  }

  /** Every object of a paginated list. */
  async list<T>(path: string): Promise<T[]> {
    const objects: T[] = [];
    for (let page = 1; page <= MAX_PAGES; page++) {
      const answer = await this.get<{ objects: T[]; total_pages: number }>(`${path}?page=${page}`);
      objects.push(...answer.objects);
      if (page >= answer.total_pages) break;
    }
    return objects;
  }
}
