import { SwitchboardError, isErrorCode } from '@switchboard/shared';
import { UsageError, type FlagSpec, type Parsed } from './command.ts';

/** Pages a list is followed through at most (50 objects each). */
const MAX_PAGES = 100;
/** How long one request to the admin API may take. */
const REQUEST_TIMEOUT_MS = 10_000;
/** Default server of the commands that use the admin API. */
export const DEFAULT_URL = 'http://127.0.0.1:3030';

/** The flags of every command that uses the admin API of a running server. */
export const ADMIN_FLAGS: Readonly<Record<'url' | 'token', FlagSpec>> = {
  url: {
    type: 'string',
    placeholder: 'URL',
    description: `the server (env SWITCHBOARD_URL; default ${DEFAULT_URL})`,
  },
  token: {
    type: 'string',
    placeholder: 'T',
    description: 'an admin token (env SWITCHBOARD_ADMIN_TOKEN)',
  },
};

/** What the help of such a command says about them. */
export const ADMIN_FLAGS_DETAILS =
  'Prefer SWITCHBOARD_ADMIN_TOKEN to --token, which is visible in the process list.\n' +
  'Create a token with "switchboard tokens create <name>".';

/** A minimal client of the admin API, for `switchboard status` and `schedules run-now`. */
export class AdminClient {
  private readonly base: string;

  constructor(
    /** The server, as given. */
    readonly url: string,
    private readonly token: string,
  ) {
    this.base = `${url.replace(/\/+$/, '')}/_/admin/api/v1/`;
  }

  /**
   * The client the `--url` and `--token` flags (else SWITCHBOARD_URL, SWITCHBOARD_ADMIN_TOKEN)
   * of `command` name; a UsageError without a token or with a URL that is not http(s).
   */
  static fromFlags(values: Parsed['values'], command: string): AdminClient {
    const url = stringOr(values.url) ?? (process.env.SWITCHBOARD_URL || DEFAULT_URL);
    if (!/^https?:\/\/[^/]/.test(url)) {
      throw new UsageError(`--url must be an http(s) URL, got ${JSON.stringify(url)}`, command);
    }
    const token = stringOr(values.token) ?? (process.env.SWITCHBOARD_ADMIN_TOKEN || undefined);
    if (token === undefined) {
      throw new UsageError(
        `${command} needs an admin token: SWITCHBOARD_ADMIN_TOKEN or --token`,
        command,
      );
    }
    return new AdminClient(url, token);
  }

  /** GET `path`; an error answer becomes a SwitchboardError with its code. */
  get<T>(path: string): Promise<T> {
    return this.request<T>('GET', path);
  }

  /** POST `path` (no body); an error answer becomes a SwitchboardError with its code. */
  post<T>(path: string): Promise<T> {
    return this.request<T>('POST', path);
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

  private async request<T>(method: 'GET' | 'POST', path: string): Promise<T> {
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
}

function stringOr(value: string | boolean | undefined): string | undefined {
  return typeof value === 'string' ? value : undefined;
}
