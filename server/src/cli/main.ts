import { parseArgs } from 'node:util';
import { SwitchboardError, type KeyKind } from '@switchboard/shared';
import { resolveOptions, type SwitchboardOptions } from '../options.ts';
import { openDatabase } from '../store/database.ts';
import { KeyStore } from '../store/key-store.ts';
import { UserStore, type PublicUser } from '../store/user-store.ts';
import { readPassword } from './read-password.ts';
import { createSwitchboard } from '../switchboard.ts';

const HELP = `switchboard — uplink RPC bridge with an HTTP facade

Usage:
  switchboard start [--host H] [--port P] [--data-dir DIR] [--log-level LEVEL]
  switchboard keys create <name> [--kind server|client] [--data-dir DIR]
  switchboard keys list [--data-dir DIR]
  switchboard keys revoke <id-or-name> [--data-dir DIR]
  switchboard users add <email> [--password P] [--disabled] [--data JSON] [--data-dir DIR]
  switchboard users list [--data-dir DIR]
  switchboard users passwd <email> [--password P] [--data-dir DIR]
  switchboard users enable|disable <email> [--data-dir DIR]
  switchboard users remove <email> [--data-dir DIR]

Without --password, users add/passwd read the password from stdin (one line; no echo on a
terminal), which keeps it out of the shell history and the process list.

Environment: SWITCHBOARD_HOST, SWITCHBOARD_PORT, SWITCHBOARD_DATA_DIR.
Defaults: 127.0.0.1:3030, data in ./.switchboard.
`;

const OPTIONS = {
  host: { type: 'string' },
  port: { type: 'string' },
  'data-dir': { type: 'string' },
  'log-level': { type: 'string' },
  kind: { type: 'string' },
  password: { type: 'string' },
  disabled: { type: 'boolean' },
  data: { type: 'string' },
  help: { type: 'boolean', short: 'h' },
} as const;

async function main(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    options: OPTIONS,
    allowPositionals: true,
  });
  const [command, sub, arg] = positionals;
  if (values.help === true || command === undefined || command === 'help') {
    process.stdout.write(HELP);
    return command === undefined && values.help !== true ? 1 : 0;
  }
  const options: SwitchboardOptions = {};
  if (values.host !== undefined) options.host = values.host;
  if (values.port !== undefined) options.port = Number(values.port);
  if (values['data-dir'] !== undefined) options.dataDir = values['data-dir'];

  switch (command) {
    case 'start':
      return start(options, values['log-level']);
    case 'keys':
      return keys(options, sub, arg, values.kind);
    case 'users':
      return users(options, sub, arg, values);
    default:
      process.stderr.write(`Unknown command ${JSON.stringify(command)}\n\n${HELP}`);
      return 1;
  }
}

async function start(options: SwitchboardOptions, logLevel: string | undefined): Promise<number> {
  const switchboard = createSwitchboard({
    ...options,
    logger: logLevel === undefined ? false : { level: logLevel },
  });
  const { url } = await switchboard.listen();
  const resolved = resolveOptions(options);
  const out = process.stdout;
  out.write(`Switchboard listening on ${url}\n`);
  out.write(`  uplinks connect to  ${url.replace(/^http/, 'ws')}/_/uplink\n`);
  out.write(`  HTTP RPC            POST ${url}/_/call/<function>\n`);
  out.write(`  data folder         ${resolved.dataDir}\n\n`);
  if (switchboard.initialKey !== undefined) {
    out.write(`Created server key "default". It is shown only this once; keep it secret:\n\n`);
    out.write(`  SWITCHBOARD_KEY=${switchboard.initialKey}\n\n`);
    out.write(`Connect an uplink:\n\n`);
    out.write(
      `  SWITCHBOARD_URL=${url} SWITCHBOARD_KEY=${switchboard.initialKey} npx tsx examples/hello-uplink.ts\n\n`,
    );
    out.write(`or from code:\n\n`);
    out.write(`  import { connect } from '@switchboard/uplink';\n`);
    out.write(
      `  const uplink = await connect({ url: '${url}', key: process.env.SWITCHBOARD_KEY! });\n`,
    );
    out.write(`  uplink.callable('add', (a: number, b: number) => a + b);\n\n`);
  } else {
    out.write(`Using the keys stored in the data folder. Create another with:\n`);
    out.write(`  npx switchboard keys create <name> --kind server\n\n`);
  }
  const stop = (signal: string) => {
    out.write(`\n${signal}: shutting down\n`);
    switchboard.close().then(
      () => process.exit(0),
      () => process.exit(1),
    );
  };
  process.once('SIGINT', () => stop('SIGINT'));
  process.once('SIGTERM', () => stop('SIGTERM'));
  return -1; // keep running
}

function keys(
  options: SwitchboardOptions,
  sub: string | undefined,
  arg: string | undefined,
  kind: string | undefined,
): number {
  const resolved = resolveOptions(options);
  const db = openDatabase(resolved.dataDir);
  try {
    const store = new KeyStore(db);
    switch (sub) {
      case 'create': {
        if (arg === undefined)
          throw new SwitchboardError('SB_ERR_OPTIONS_INVALID', 'keys create needs a name');
        const keyKind = (kind ?? 'server') as KeyKind;
        if (keyKind !== 'server' && keyKind !== 'client') {
          throw new SwitchboardError('SB_ERR_OPTIONS_INVALID', '--kind must be server or client');
        }
        const created = store.create(arg, keyKind);
        process.stdout.write(
          `Created ${keyKind} key "${arg}" (id ${created.record.id}). Shown once:\n${created.key}\n`,
        );
        return 0;
      }
      case 'list':
        for (const key of store.list()) {
          const state =
            key.revokedAt === null ? 'active' : `revoked ${new Date(key.revokedAt).toISOString()}`;
          process.stdout.write(
            `${key.id}\t${key.name}\t${key.kind}\t${new Date(key.createdAt).toISOString()}\t${state}\n`,
          );
        }
        return 0;
      case 'revoke': {
        if (arg === undefined)
          throw new SwitchboardError('SB_ERR_OPTIONS_INVALID', 'keys revoke needs an id or name');
        const revoked = store.revoke(arg);
        if (revoked === undefined) {
          process.stderr.write(`No active key with id or name ${JSON.stringify(arg)}\n`);
          return 1;
        }
        process.stdout.write(`Revoked key "${revoked.name}" (${revoked.id})\n`);
        return 0;
      }
      default:
        process.stderr.write(`Unknown keys command ${JSON.stringify(sub)}\n\n${HELP}`);
        return 1;
    }
  } finally {
    db.close();
  }
}

interface UserFlags {
  password?: string | undefined;
  disabled?: boolean | undefined;
  data?: string | undefined;
}

async function users(
  options: SwitchboardOptions,
  sub: string | undefined,
  email: string | undefined,
  flags: UserFlags,
): Promise<number> {
  if (sub !== 'list' && email === undefined) {
    throw new SwitchboardError('SB_ERR_OPTIONS_INVALID', `users ${sub ?? ''} needs an email`);
  }
  const db = openDatabase(resolveOptions(options).dataDir);
  try {
    const store = new UserStore(db);
    const out = process.stdout;
    switch (sub) {
      case 'add': {
        const user = await store.create({
          email: email!,
          password: flags.password ?? (await readPassword(`Password for ${email}: `)),
          enabled: flags.disabled !== true,
          ...(flags.data === undefined ? {} : { data: parseData(flags.data) }),
        });
        out.write(
          `Created user ${user.email} (id ${user.id}${user.enabled ? '' : ', disabled'})\n`,
        );
        return 0;
      }
      case 'list':
        out.write(userTable(store.list()));
        return 0;
      case 'passwd': {
        if (store.find(email!) === undefined) throw noSuchUser(email!); // before asking
        const password = flags.password ?? (await readPassword(`New password for ${email}: `));
        const user = await store.update(email!, { password });
        out.write(`Changed the password of ${user.email}\n`);
        return 0;
      }
      case 'enable':
      case 'disable': {
        const user = await store.update(email!, { enabled: sub === 'enable' });
        out.write(`${user.enabled ? 'Enabled' : 'Disabled'} ${user.email}\n`);
        return 0;
      }
      case 'remove':
        if (!store.remove(email!)) throw noSuchUser(email!);
        out.write(`Removed user ${email}\n`);
        return 0;
      default:
        process.stderr.write(`Unknown users command ${JSON.stringify(sub)}\n\n${HELP}`);
        return 1;
    }
  } finally {
    db.close();
  }
}

function parseData(json: string): Record<string, unknown> {
  try {
    return JSON.parse(json) as Record<string, unknown>; // the store checks it is an object
  } catch {
    throw new SwitchboardError('SB_ERR_USER_INVALID', '--data must be a JSON object');
  }
}

function noSuchUser(email: string): SwitchboardError {
  return new SwitchboardError('SB_ERR_NO_SUCH_USER', `No user ${JSON.stringify(email)}`);
}

/** Aligned columns; never the password hash (the store does not hand it out). */
function userTable(list: PublicUser[]): string {
  const rows = [
    ['id', 'email', 'enabled', 'created', 'last login'],
    ...list.map((user) => [
      String(user.id),
      user.email,
      user.enabled ? 'yes' : 'no',
      new Date(user.createdAt).toISOString(),
      user.lastLoginAt === null ? 'never' : new Date(user.lastLoginAt).toISOString(),
    ]),
  ];
  const widths = rows[0]!.map((_, column) => Math.max(...rows.map((row) => row[column]!.length)));
  return rows
    .map((row) =>
      row
        .map((cell, column) => cell.padEnd(widths[column]!))
        .join('  ')
        .trimEnd(),
    )
    .map((line) => `${line}\n`)
    .join('');
}

main(process.argv.slice(2)).then(
  (code) => {
    if (code >= 0) process.exitCode = code;
  },
  (error: unknown) => {
    const message =
      error instanceof SwitchboardError ? `${error.code}: ${error.message}` : String(error);
    process.stderr.write(`switchboard: ${message}\n`);
    process.exitCode = 1;
  },
);
