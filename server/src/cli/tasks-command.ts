import { TASK_STATUSES } from '@switchboard/shared';
import type { TaskAdminView } from '../http/admin/task-routes.ts';
import type { Page } from '../http/admin/pagination.ts';
import { ADMIN_DETAILS, ADMIN_FLAGS, adminClientOf } from './admin-flags.ts';
import { UsageError, type CommandGroup, type FlagSpec } from './command.ts';
import { table } from './table.ts';

const out = (text: string) => process.stdout.write(text);

const JSON_FLAG: FlagSpec = { type: 'boolean', description: 'print the admin API answer as JSON' };
/** Longest state shown in a list's STATE column. */
const STATE_COLUMN_CHARS = 40;

/** `switchboard tasks list|show|kill`: background tasks, through the admin API. */
export const tasksCommands: CommandGroup = {
  name: 'tasks',
  summary: 'Background tasks of a running server (docs/tasks.md), through its admin API.',
  commands: [
    {
      name: 'tasks list',
      summary: 'List tasks, newest first: id, function, status, state, times (50 a page).',
      details: ADMIN_DETAILS,
      args: '',
      arity: [0, 0],
      flags: {
        ...ADMIN_FLAGS,
        name: { type: 'string', placeholder: 'N', description: 'only tasks of function N' },
        status: {
          type: 'string',
          placeholder: 'S',
          description: `only tasks in status S (${TASK_STATUSES.join(', ')})`,
        },
        page: { type: 'string', placeholder: 'P', description: 'page P (default 1)' },
        json: JSON_FLAG,
      },
      async run({ values }) {
        const { client } = adminClientOf(values, 'tasks list');
        const query = new URLSearchParams();
        if (typeof values.name === 'string') query.set('name', values.name);
        if (typeof values.status === 'string') {
          if (!(TASK_STATUSES as readonly string[]).includes(values.status)) {
            throw new UsageError(
              `--status must be one of ${TASK_STATUSES.join(', ')}, got ${JSON.stringify(values.status)}`,
              'tasks list',
            );
          }
          query.set('status', values.status);
        }
        if (typeof values.page === 'string') {
          if (!/^[1-9]\d{0,8}$/.test(values.page)) {
            throw new UsageError(`--page must be a positive integer`, 'tasks list');
          }
          query.set('page', values.page);
        }
        const search = query.toString();
        const path = search === '' ? 'tasks/' : `tasks/?${search}`;
        const page = await client.get<Page<TaskAdminView>>(path);
        out(values.json === true ? `${JSON.stringify(page, null, 2)}\n` : listText(page));
        return 0;
      },
    },
    {
      name: 'tasks show',
      summary: 'Show one task: status, state, result or error, where it runs, its times.',
      details: ADMIN_DETAILS,
      args: '<id>',
      arity: [1, 1],
      flags: { ...ADMIN_FLAGS, json: JSON_FLAG },
      async run({ values, positionals }) {
        const { client } = adminClientOf(values, 'tasks show');
        const task = await client.get<TaskAdminView>(taskPath(positionals[0]!));
        out(values.json === true ? `${JSON.stringify(task, null, 2)}\n` : showText(task));
        return 0;
      },
    },
    {
      name: 'tasks kill',
      summary: "Kill a task: its handler's signal fires and it ends killed (an ended task stays).",
      details: ADMIN_DETAILS,
      args: '<id>',
      arity: [1, 1],
      flags: { ...ADMIN_FLAGS, json: JSON_FLAG },
      async run({ values, positionals }) {
        const { client } = adminClientOf(values, 'tasks kill');
        const path = taskPath(positionals[0]!);
        const before = await client.get<TaskAdminView>(path);
        const task = before.ended_at === null ? await client.delete<TaskAdminView>(path) : before;
        if (values.json === true) out(`${JSON.stringify(task, null, 2)}\n`);
        else if (before.ended_at !== null)
          out(`Task ${task.id} (${task.name}) had already ended: ${task.status}\n`);
        else if (task.status === 'killed') out(`Killed task ${task.id} (${task.name})\n`);
        else if (task.ended_at !== null)
          out(`Task ${task.id} (${task.name}) ended before the kill: ${task.status}\n`);
        else out(`Asked to kill task ${task.id} (${task.name}); its server ends it\n`);
        return 0;
      },
    },
  ],
};

function taskPath(id: string): string {
  return `tasks/${encodeURIComponent(id)}/`;
}

function listText(page: Page<TaskAdminView>): string {
  if (page.num_results === 0) return 'No tasks.\n';
  const rows = page.objects.map((task) => [
    task.id,
    task.name,
    task.status,
    task.created_at,
    task.started_at ?? '-',
    task.ended_at ?? '-',
    clip(task.state === null ? '-' : JSON.stringify(task.state)),
  ]);
  const header = ['ID', 'FUNCTION', 'STATUS', 'CREATED', 'STARTED', 'ENDED', 'STATE'];
  const footer = `Page ${page.page} of ${page.total_pages} (${page.num_results} tasks)\n`;
  return table([header, ...rows]) + footer;
}

function showText(task: TaskAdminView): string {
  const lines: Array<[string, string]> = [
    ['id', task.id],
    ['function', task.name],
    ['status', task.status],
    ['state', JSON.stringify(task.state)],
  ];
  if (task.status === 'completed') lines.push(['result', JSON.stringify(task.result)]);
  if (task.error !== null) lines.push(['error', `${task.error.code}: ${task.error.message}`]);
  if (task.schedule !== null) lines.push(['schedule', task.schedule]);
  lines.push(['provider', task.provider ?? '-']);
  if (task.node !== null) lines.push(['node', task.node]);
  lines.push(['timeout', task.timeout_ms === null ? 'none' : `${task.timeout_ms} ms`]);
  lines.push(['created', task.created_at]);
  lines.push(['started', task.started_at ?? '-']);
  lines.push(['ended', task.ended_at ?? '-']);
  return table(lines);
}

function clip(text: string): string {
  return text.length <= STATE_COLUMN_CHARS ? text : `${text.slice(0, STATE_COLUMN_CHARS - 1)}…`;
}
