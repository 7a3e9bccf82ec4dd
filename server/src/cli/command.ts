import { parseArgs } from 'node:util';

/** A command-line mistake (unknown command or flag, missing argument, bad value): exit 2. */
export class UsageError extends Error {
  constructor(
    message: string,
    /** The command whose `--help` explains the fix, e.g. `keys create`. */
    readonly command?: string,
  ) {
    super(message);
  }
}

/** Exit status of a usage mistake, as most command-line tools use it. */
export const USAGE_EXIT_CODE = 2;

/** One flag of a command. */
export interface FlagSpec {
  type: 'string' | 'boolean';
  /** Shown in usage for string flags: `--kind <placeholder>`. */
  placeholder?: string;
  description: string;
}

/** The parsed command line of one command. */
export interface Parsed {
  values: Record<string, string | boolean | undefined>;
  positionals: string[];
}

/** A runnable command (`keys create`), with what `--help` prints for it. */
export interface Command {
  /** Words after `switchboard`: `keys create`. */
  readonly name: string;
  /** One line for the group's list. */
  readonly summary: string;
  /** Positional arguments as shown in usage: `<name>`. */
  readonly args: string;
  /** How many positionals the command takes: [min, max]. */
  readonly arity: readonly [number, number];
  readonly flags: Readonly<Record<string, FlagSpec>>;
  /** Paragraphs after the usage line. */
  readonly details?: string;
  run(parsed: Parsed): Promise<number> | number;
}

/** Commands under one word (`keys create|list|revoke`), or two (`users tokens create`). */
export interface CommandGroup {
  readonly name: string;
  readonly summary: string;
  readonly commands: readonly Command[];
  /** Groups one word further down (`users tokens`), named with their parent's name first. */
  readonly groups?: readonly CommandGroup[];
}

/** Shared by every command that reads the data folder. */
export const DATA_DIR_FLAG: FlagSpec = {
  type: 'string',
  placeholder: 'DIR',
  description: 'data folder (env SWITCHBOARD_DATA_DIR; default ./.switchboard)',
};

const HELP_FLAG: FlagSpec = { type: 'boolean', description: 'show this help' };

/** `--help` text of a command. */
export function commandHelp(command: Command): string {
  const flags = Object.entries({ ...command.flags, help: HELP_FLAG });
  const named = Object.entries(command.flags);
  const usageFlags =
    named.length > 4
      ? '[options]'
      : named.map(([name, flag]) => `[${flagLabel(name, flag)}]`).join(' ');
  const labels = flags.map(([name, flag]) =>
    name === 'help' ? '-h, --help' : flagLabel(name, flag),
  );
  const width = Math.max(...labels.map((label) => label.length));
  const lines = [
    `Usage: switchboard ${command.name}${command.args === '' ? '' : ` ${command.args}`} ${usageFlags}`.trimEnd(),
    '',
    command.summary,
  ];
  if (command.details !== undefined) lines.push('', command.details.trimEnd());
  lines.push('', 'Options:');
  flags.forEach(([, flag], index) =>
    lines.push(`  ${labels[index]!.padEnd(width)}  ${flag.description}`),
  );
  return `${lines.join('\n')}\n`;
}

/** `--help` text of a group. */
export function groupHelp(group: CommandGroup): string {
  const entries = [
    ...group.commands,
    ...(group.groups ?? []).map((sub) => ({
      name: `${sub.name} ${sub.commands.map((c) => c.name.slice(sub.name.length + 1)).join('|')}`,
      summary: sub.summary,
    })),
  ];
  const width = Math.max(...entries.map((entry) => entry.name.length));
  return [
    `Usage: switchboard ${group.name} <command> [options]`,
    '',
    group.summary,
    '',
    'Commands:',
    ...entries.map((entry) => `  ${entry.name.padEnd(width)}  ${entry.summary}`),
    '',
    `Run "switchboard ${group.name} <command> --help" for the options of each.`,
    '',
  ].join('\n');
}

function flagLabel(name: string, flag: FlagSpec): string {
  return flag.type === 'string' ? `--${name} ${flag.placeholder ?? 'VALUE'}` : `--${name}`;
}

/**
 * Parses `argv` (the words after the command's name) strictly: an unknown flag, a missing flag
 * value or a wrong number of arguments is a UsageError. Returns 'help' for -h/--help.
 */
export function parseCommand(command: Command, argv: string[]): Parsed | 'help' {
  if (argv.includes('--help') || argv.includes('-h')) return 'help';
  const options: Record<string, { type: 'string' | 'boolean'; short?: string }> = {};
  for (const [name, flag] of Object.entries(command.flags)) options[name] = { type: flag.type };
  let parsed: ReturnType<typeof parseArgs>;
  try {
    parsed = parseArgs({ args: argv, options, allowPositionals: true, strict: true });
  } catch (error) {
    throw new UsageError(parseErrorMessage(error), command.name);
  }
  const [min, max] = command.arity;
  const { positionals } = parsed;
  if (positionals.length < min) {
    throw new UsageError(`${command.name} needs ${command.args}`, command.name);
  }
  if (positionals.length > max) {
    throw new UsageError(
      `Unexpected argument ${JSON.stringify(positionals[max])} for ${command.name}`,
      command.name,
    );
  }
  return { values: parsed.values as Parsed['values'], positionals };
}

/** Node's parseArgs messages, without their advice to use "--" (no command takes it). */
function parseErrorMessage(error: unknown): string {
  const message = error instanceof Error ? error.message : String(error);
  return message.split('. To specify')[0]!.split('. Did you forget')[0]!;
}
