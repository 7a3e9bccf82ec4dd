import { writeFile } from 'node:fs/promises';
import { SwitchboardError, isErrorCode } from '@switchboard/shared';
import { apiDeclarations, type FunctionEntry } from '../codegen/api-declarations.ts';
import { UsageError, type Command } from './command.ts';

/** Default server of `switchboard types`, as for `switchboard status`. */
const DEFAULT_URL = 'http://127.0.0.1:3030';
/** How long fetching /_/functions.json may take. */
const REQUEST_TIMEOUT_MS = 10_000;

/** `switchboard types`: TypeScript declarations of a server's functions. */
export const typesCommand: Command = {
  name: 'types',
  summary: 'Write TypeScript declarations (an Api interface) of the functions a server serves.',
  details:
    'Reads /_/functions.json of a running server: the functions the key may call (with no key,\n' +
    'those open to clients), with their args and returns schemas. Use the file with\n' +
    "typed<Api>(uplink) from '@switchboard/uplink' or typed<Api>(sb) from '@switchboard/server'.\n" +
    'Prefer SWITCHBOARD_KEY to --key, which is visible in the process list.',
  args: '',
  arity: [0, 0],
  flags: {
    url: {
      type: 'string',
      placeholder: 'URL',
      description: `the server (env SWITCHBOARD_URL; default ${DEFAULT_URL})`,
    },
    out: {
      type: 'string',
      placeholder: 'FILE',
      description: 'where to write the declarations, e.g. api.d.ts (default: stdout)',
    },
    key: {
      type: 'string',
      placeholder: 'KEY',
      description: 'an uplink key to list the functions it may call (env SWITCHBOARD_KEY)',
    },
  },
  async run({ values }) {
    const url = stringOr(values.url) ?? (process.env.SWITCHBOARD_URL || DEFAULT_URL);
    if (!/^https?:\/\/[^/]/.test(url)) {
      throw new UsageError(`--url must be an http(s) URL, got ${JSON.stringify(url)}`, 'types');
    }
    const key = stringOr(values.key) ?? (process.env.SWITCHBOARD_KEY || undefined);
    const source = `${url.replace(/\/+$/, '')}/_/functions.json`;
    const functions = await fetchFunctions(source, key);
    const text = apiDeclarations(functions, source);
    const out = stringOr(values.out);
    if (out === undefined) {
      process.stdout.write(text);
      return 0;
    }
    await writeFile(out, text);
    process.stdout.write(`Wrote ${functions.length} function(s) to ${out}\n`);
    return 0;
  },
};

async function fetchFunctions(source: string, key: string | undefined): Promise<FunctionEntry[]> {
  let response: Response;
  try {
    response = await fetch(source, {
      headers: {
        accept: 'application/json',
        ...(key === undefined ? {} : { authorization: `Bearer ${key}` }),
      },
      signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS),
    });
  } catch (error) {
    const cause =
      error instanceof Error ? ((error.cause as Error)?.message ?? error.message) : String(error);
    throw new SwitchboardError('SB_ERR_CONNECTION_FAILED', `Cannot reach ${source}: ${cause}`);
  }
  let body: unknown;
  try {
    body = JSON.parse(await response.text());
  } catch {
    body = undefined;
  }
  if (!response.ok) {
    const { code, message } = (body ?? {}) as { code?: unknown; message?: unknown };
    throw new SwitchboardError(
      isErrorCode(code) ? code : 'SB_ERR_INTERNAL',
      typeof message === 'string' ? message : `HTTP ${response.status} from ${source}`,
    );
  }
  const functions = (body as { functions?: unknown } | undefined)?.functions;
  if (
    !Array.isArray(functions) ||
    !functions.every((entry) => typeof (entry as { name?: unknown })?.name === 'string')
  )
    throw new SwitchboardError('SB_ERR_INTERNAL', `${source} did not answer a list of functions`);
  return functions as FunctionEntry[];
}

function stringOr(value: string | boolean | undefined): string | undefined {
  return typeof value === 'string' ? value : undefined;
}
