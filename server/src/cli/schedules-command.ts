import type { ScheduleRecord } from '../schedules/schedule-types.ts';
import { ScheduleStore } from '../store/schedule-store.ts';
import { ADMIN_DETAILS, ADMIN_FLAGS, adminClientOf } from './admin-flags.ts';
import { DATA_DIR_FLAG, UsageError, type CommandGroup } from './command.ts';
import { withDatabase } from './data-folder.ts';
import { isoOr, table } from './table.ts';

const out = (text: string) => process.stdout.write(text);

/**
 * `switchboard schedules add|list|remove|run-now`: schedules in the data folder (a running
 * server on it picks changes up within a second); run-now asks the running server.
 */
export const schedulesCommands: CommandGroup = {
  name: 'schedules',
  summary:
    'Manage schedules: cron expressions that launch a function as a background task (docs/tasks.md).',
  commands: [
    {
      name: 'schedules add',
      summary: 'Add a schedule.',
      details:
        'The expression has five fields (minute hour day month weekday) or six (seconds first),\n' +
        'and is read in --timezone (an IANA name; default UTC). Each run launches the function as\n' +
        "a background task with --args, a JSON array. Example: --cron '0 30 9 * * MON-FRI'\n" +
        '--function report --args \'["daily"]\' --timezone Europe/Paris. A name in use is\n' +
        'SB_ERR_SCHEDULE_EXISTS: remove it first (or change it through the admin API).',
      args: '<name>',
      arity: [1, 1],
      flags: {
        cron: { type: 'string', placeholder: 'EXPR', description: 'when it fires (required)' },
        function: {
          type: 'string',
          placeholder: 'NAME',
          description: 'the function each run launches (required)',
        },
        args: {
          type: 'string',
          placeholder: 'JSON',
          description: "the function's arguments, a JSON array (default [])",
        },
        timezone: {
          type: 'string',
          placeholder: 'TZ',
          description: 'IANA timezone the expression is read in (default UTC)',
        },
        disabled: { type: 'boolean', description: 'add it disabled (it fires nothing)' },
        'data-dir': DATA_DIR_FLAG,
      },
      run: ({ values, positionals }) => {
        const input = {
          name: positionals[0]!,
          cron: required(values.cron, 'cron'),
          function: required(values.function, 'function'),
          args: argsOf(values.args),
          timezone: typeof values.timezone === 'string' ? values.timezone : null,
          enabled: values.disabled !== true,
        };
        return withDatabase(values['data-dir'], (db) => {
          const made = new ScheduleStore(db).create(input);
          const next =
            made.nextRunAt === null ? 'disabled' : `next run ${isoOr(made.nextRunAt, '')}`;
          out(`Added schedule "${made.name}" (id ${made.id}): ${made.cron}, ${next}\n`);
          return 0;
        });
      },
    },
    {
      name: 'schedules list',
      summary:
        'List schedules: name, expression, timezone, function, next and last run, last error.',
      args: '',
      arity: [0, 0],
      flags: { 'data-dir': DATA_DIR_FLAG },
      run: ({ values }) =>
        withDatabase(values['data-dir'], (db) => {
          out(scheduleTable(new ScheduleStore(db).list()));
          return 0;
        }),
    },
    {
      name: 'schedules remove',
      summary: 'Remove a schedule by name or id; its past runs stay in the task history.',
      args: '<name>',
      arity: [1, 1],
      flags: { 'data-dir': DATA_DIR_FLAG },
      run: ({ values, positionals }) =>
        withDatabase(values['data-dir'], (db) => {
          const removed = new ScheduleStore(db).remove(positionals[0]!);
          out(`Removed schedule "${removed.name}" (${removed.id})\n`);
          return 0;
        }),
    },
    {
      name: 'schedules run-now',
      summary: 'Launch a run of a schedule now, on a running server; prints the task id.',
      details: ADMIN_DETAILS,
      args: '<name>',
      arity: [1, 1],
      flags: { ...ADMIN_FLAGS },
      run: async ({ values, positionals }) => {
        const { client } = adminClientOf(values, 'schedules run-now');
        const name = positionals[0]!;
        const task = await client.post<{ id: string; name: string }>(
          `schedules/${encodeURIComponent(name)}/run/`,
        );
        out(`Launched task ${task.id} (${task.name}) for schedule "${name}"\n`);
        return 0;
      },
    },
  ],
};

function required(value: string | boolean | undefined, flag: string): string {
  if (typeof value !== 'string') {
    throw new UsageError(`schedules add needs --${flag}`, 'schedules add');
  }
  return value;
}

function argsOf(value: string | boolean | undefined): unknown[] {
  if (typeof value !== 'string') return [];
  let args: unknown;
  try {
    args = JSON.parse(value);
  } catch {
    args = undefined;
  }
  if (!Array.isArray(args)) {
    throw new UsageError(
      `--args must be a JSON array, got ${JSON.stringify(value)}`,
      'schedules add',
    );
  }
  return args;
}

/** Schedules as a table, one line each. */
function scheduleTable(schedules: readonly ScheduleRecord[]): string {
  const rows = schedules.map((schedule) => [
    schedule.name,
    schedule.cron,
    schedule.timezone ?? 'UTC',
    schedule.function,
    schedule.enabled ? isoOr(schedule.nextRunAt, '-') : 'disabled',
    isoOr(schedule.lastRunAt, 'never'),
    schedule.lastError === null ? '-' : schedule.lastError.code,
  ]);
  return table([
    ['name', 'cron', 'timezone', 'function', 'next run', 'last run', 'last error'],
    ...rows,
  ]);
}
