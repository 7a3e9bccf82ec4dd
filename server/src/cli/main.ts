import { parseArgs } from 'node:util';
import { SwitchboardError, type KeyKind } from '@switchboard/shared';
import { resolveOptions, type SwitchboardOptions } from '../options.ts';
import { openDatabase } from '../store/database.ts';
import { KeyStore } from '../store/key-store.ts';
import { createSwitchboard } from '../switchboard.ts';

const HELP = `switchboard — uplink RPC bridge with an HTTP facade

Usage:
  switchboard start [--host H] [--port P] [--data-dir DIR] [--log-level LEVEL]
  switchboard keys create <name> [--kind server|client] [--data-dir DIR]
  switchboard keys list [--data-dir DIR]
  switchboard keys revoke <id-or-name> [--data-dir DIR]

Environment: SWITCHBOARD_HOST, SWITCHBOARD_PORT, SWITCHBOARD_DATA_DIR.
Defaults: 127.0.0.1:3030, data in ./.switchboard.
`;

const OPTIONS = {
  host: { type: 'string' },
  port: { type: 'string' },
  'data-dir': { type: 'string' },
  'log-level': { type: 'string' },
  kind: { type: 'string' },
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
