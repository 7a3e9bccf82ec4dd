import { SwitchboardError } from '@switchboard/shared';
import { resolveOptions, type SwitchboardOptions } from '../options.ts';
import { createSwitchboard, type Switchboard } from '../switchboard.ts';
import { DASHBOARD_PATH } from '../http/admin/dashboard-routes.ts';
import {
  USAGE_EXIT_CODE,
  UsageError,
  commandHelp,
  groupHelp,
  parseCommand,
  type Command,
  type CommandGroup,
} from './command.ts';
import { keysCommands } from './keys-command.ts';
import { schedulesCommands } from './schedules-command.ts';
import { startCommand } from './start-options.ts';
import { statusCommand } from './status-command.ts';
import { tasksCommands } from './tasks-command.ts';
import { tokensCommands } from './tokens-command.ts';
import { typesCommand } from './types-command.ts';
import { usersCommands } from './users-command.ts';

const COMMANDS: readonly Command[] = [startCommand(start), statusCommand, typesCommand];
const GROUPS: readonly CommandGroup[] = [
  keysCommands,
  usersCommands,
  tokensCommands,
  tasksCommands,
  schedulesCommands,
];

const HELP = `switchboard — uplink RPC bridge with an HTTP facade

Usage: switchboard <command> [options]

Commands:
  start                          start the server
  status                         what is connected, through the admin API
  types                          TypeScript declarations of a server's functions
  keys create|list|revoke        uplink keys
  users add|list|passwd|enable|disable|remove
                                 users who sign in with a password
  users tokens create|list|revoke
                                 users' API tokens (Authorization: Token)
  tokens create|list|revoke      admin API tokens
  tasks list|show|kill           background tasks, through the admin API
  schedules add|list|remove|run-now
                                 cron schedules that launch background tasks

Run "switchboard <command> --help" (e.g. "switchboard keys create --help") for its options.
Commands other than start, status, types, tasks and schedules run-now work on the data folder
(--data-dir DIR, env SWITCHBOARD_DATA_DIR, default ./.switchboard) and need no running server.
`;

async function main(argv: string[]): Promise<number> {
  const [word, ...rest] = argv;
  if (word === '--help' || word === '-h') return help(HELP);
  if (word === undefined || word.startsWith('-')) {
    throw new UsageError(
      'Which command? start, status, types, keys, users, tokens, tasks or schedules',
    );
  }
  if (word === 'help') return rest.length === 0 ? help(HELP) : main([...rest, '--help']);
  const command = COMMANDS.find((candidate) => candidate.name === word);
  if (command !== undefined) return run(command, rest);
  const group = GROUPS.find((candidate) => candidate.name === word);
  if (group === undefined) throw new UsageError(`Unknown command ${JSON.stringify(word)}`);
  return runGroup(group, rest);
}

function runGroup(group: CommandGroup, rest: string[]): Promise<number> | number {
  const [sub, ...args] = rest;
  if (sub === '--help' || sub === '-h' || sub === 'help') return help(groupHelp(group));
  const names = [
    ...group.commands.map((c) => c.name.slice(group.name.length + 1)),
    ...(group.groups ?? []).map((g) => g.name.slice(group.name.length + 1)),
  ];
  if (sub === undefined || sub.startsWith('-')) {
    throw new UsageError(`${group.name} needs a command: ${names.join(', ')}`, group.name);
  }
  const subgroup = group.groups?.find((candidate) => candidate.name === `${group.name} ${sub}`);
  if (subgroup !== undefined) return runGroup(subgroup, args);
  const leaf = group.commands.find((candidate) => candidate.name === `${group.name} ${sub}`);
  if (leaf === undefined) {
    throw new UsageError(
      `Unknown ${group.name} command ${JSON.stringify(sub)}; one of ${names.join(', ')}`,
      group.name,
    );
  }
  return run(leaf, args);
}

function run(command: Command, argv: string[]): Promise<number> | number {
  const parsed = parseCommand(command, argv);
  return parsed === 'help' ? help(commandHelp(command)) : command.run(parsed);
}

function help(text: string): number {
  process.stdout.write(text);
  return 0;
}

// `start` stays in this file, apart from the flag parsing above, so that shutdown handling
// (signals, drain) can change here without touching the other commands.
async function start(options: SwitchboardOptions, logLevel: string | undefined): Promise<number> {
  const switchboard = createSwitchboard({
    ...options,
    logger: logLevel === undefined ? false : { level: logLevel },
  });
  const { url } = await switchboard.listen();
  const resolved = resolveOptions(options);
  // Before the banner: whoever waits for it and then sends SIGTERM gets a graceful shutdown,
  // not the default action of a signal nobody listens to yet.
  shutDownOnSignals(switchboard, resolved.shutdownGraceMs);
  const out = process.stdout;
  out.write(`Switchboard listening on ${url}\n`);
  out.write(
    `  dashboard           ${url}${DASHBOARD_PATH} (admin token: switchboard tokens create <name>)\n`,
  );
  out.write(`  uplinks connect to  ${url.replace(/^http/, 'ws')}/_/uplink\n`);
  out.write(`  HTTP RPC            POST ${url}/_/call/<function>\n`);
  out.write(`  admin API           ${url}/_/admin/api/v1/ (switchboard tokens create <name>)\n`);
  out.write(`  data folder         ${resolved.dataDir}\n\n`);
  if (switchboard.initialKey !== undefined) {
    // The secret appears on this one line and nowhere else (stdout often ends up in logs);
    // everything below refers to it through the environment variable.
    out.write(`Created server key "default". It is shown only this once; keep it secret:\n\n`);
    out.write(`  export SWITCHBOARD_KEY=${switchboard.initialKey}\n\n`);
    out.write(`Connect an uplink (in a shell where SWITCHBOARD_KEY is set as above):\n\n`);
    out.write(`  SWITCHBOARD_URL=${url} node examples/hello-uplink.mjs\n\n`);
    out.write(`or from code:\n\n`);
    out.write(`  import { connect } from '@switchboard/uplink';\n`);
    out.write(
      `  const uplink = await connect({ url: '${url}', key: process.env.SWITCHBOARD_KEY });\n`,
    );
    out.write(`  uplink.callable('add', (a, b) => a + b);\n\n`);
    out.write(
      `Limit what a key may register: switchboard keys create NAME --functions 'gpu.*' --endpoints '/gpu/*'\n\n`,
    );
  } else {
    out.write(`Using the keys stored in the data folder. Create another with:\n`);
    out.write(`  npx switchboard keys create <name> --kind server\n\n`);
  }
  return -1; // keep running
}

/**
 * SIGTERM/SIGINT: graceful shutdown, exit 0 when every call in flight finished, 1 when the
 * deadline cut some off (said on stderr). A second signal exits at once.
 */
function shutDownOnSignals(switchboard: Switchboard, graceMs: number): void {
  let stopping = false;
  const stop = (signal: NodeJS.Signals) => {
    if (stopping) {
      process.stderr.write(`${signal} again: exiting now\n`);
      process.exit(1);
    }
    stopping = true;
    process.stdout.write(`\n${signal}: shutting down, up to ${graceMs} ms for calls in flight\n`);
    // Should closing itself hang, the process still ends.
    setTimeout(() => process.exit(1), graceMs + 10_000).unref();
    switchboard.shutdown({ graceMs }).then(
      (outcome) => {
        if (outcome.clean) {
          process.stdout.write('Every call in flight finished; stopped.\n');
          process.exit(0);
        }
        process.stderr.write(
          `switchboard: shutdown deadline (${graceMs} ms) passed; cut off ${outcome.httpRequests} HTTP request(s), ` +
            `calls on ${outcome.busyUplinks} uplink(s) and ${outcome.appCalls} in-process call(s)\n`,
        );
        process.exit(1);
      },
      (error: unknown) => {
        process.stderr.write(`switchboard: shutdown failed: ${String(error)}\n`);
        process.exit(1);
      },
    );
  };
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
}

main(process.argv.slice(2)).then(
  (code) => {
    if (code >= 0) process.exitCode = code;
  },
  (error: unknown) => {
    if (error instanceof UsageError) {
      const command = error.command === undefined ? '' : ` ${error.command}`;
      process.stderr.write(
        `switchboard: ${error.message}\nRun "switchboard${command} --help" for usage.\n`,
      );
      process.exitCode = USAGE_EXIT_CODE;
      return;
    }
    const message =
      error instanceof SwitchboardError ? `${error.code}: ${error.message}` : String(error);
    process.stderr.write(`switchboard: ${message}\n`);
    process.exitCode = 1;
  },
);
