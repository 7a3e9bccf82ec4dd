import { AdminClient } from './admin-client.ts';
import { UsageError, type FlagSpec, type Parsed } from './command.ts';

/** Default server of the commands that read the admin API. */
export const DEFAULT_URL = 'http://127.0.0.1:3030';

/** `--url` and `--token` of every command that talks to a running server's admin API. */
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

/** What `--help` says of the token, for every such command. */
export const ADMIN_DETAILS =
  'Reads the admin API of a running server. Prefer SWITCHBOARD_ADMIN_TOKEN to --token, which\n' +
  'is visible in the process list. Create a token with "switchboard tokens create <name>".';

/**
 * The server's URL and an admin client for it, from the flags or the environment; a bad URL or
 * no token is a usage error of `command`.
 */
export function adminClientOf(
  values: Parsed['values'],
  command: string,
): { url: string; client: AdminClient } {
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
  return { url, client: new AdminClient(url, token) };
}

function stringOr(value: string | boolean | undefined): string | undefined {
  return typeof value === 'string' ? value : undefined;
}
