import { TASK_STATUSES } from '@switchboard/shared';
import {
  DEFAULT_TASKS_PER_PAGE,
  MAX_TASKS_PER_PAGE,
  MAX_TASK_WAIT_MS,
} from '../http/task-routes.ts';
import { BEARER_AUTH, type Components } from './openapi-document.ts';

type Json = Record<string, unknown>;

const TASK_SCHEMA = 'Task';

/** A task as `/_/tasks` answers it (task-view.ts). */
const TASK_BODY = {
  type: 'object',
  required: [
    'id',
    'name',
    'status',
    'state',
    'provider',
    'timeoutMs',
    'createdAt',
    'startedAt',
    'endedAt',
    'url',
  ],
  properties: {
    id: { type: 'string', pattern: '^tsk_[A-Za-z0-9_-]{22}$' },
    name: { type: 'string', description: 'The function it runs' },
    status: { enum: [...TASK_STATUSES] },
    state: { description: 'The latest value its handler set (setState); null until set' },
    result: { description: 'What the function returned (completed tasks only)' },
    error: {
      type: 'object',
      description: 'Why it failed or was killed (SB_ERR_TASK_KILLED, SB_ERR_TASK_INTERRUPTED…)',
      required: ['code', 'message'],
      properties: { code: { type: 'string' }, message: { type: 'string' } },
    },
    schedule: { type: 'string', description: 'The schedule that launched it' },
    provider: { type: ['string', 'null'], description: 'Where it runs: an uplink id, or app' },
    node: { type: 'string', description: 'The server of the cluster that runs it' },
    timeoutMs: { type: ['integer', 'null'] },
    createdAt: { type: 'string', format: 'date-time' },
    startedAt: { type: ['string', 'null'], format: 'date-time' },
    endedAt: { type: ['string', 'null'], format: 'date-time' },
    url: { type: 'string', description: 'Its path: /_/tasks/<id>' },
  },
};

/**
 * The `/_/tasks` routes (docs/tasks.md) as OpenAPI path items: launch (`POST /_/tasks/{target}`
 * with a function's name; the functions are those of `POST /_/call/<name>`), read with a long
 * poll and kill (`GET`/`DELETE /_/tasks/{target}` with a task id), and, when `list`, the list
 * of every task (server keys). One path template serves both: OpenAPI allows no two templates
 * that differ only in their parameter's name.
 */
export function taskPathItems(components: Components, list: boolean): Json {
  const task = { $ref: components.define(TASK_SCHEMA, TASK_BODY) };
  const json = (schema: unknown) => ({ 'application/json': { schema } });
  const target = (description: string) => ({
    name: 'target',
    in: 'path',
    required: true,
    description,
    schema: { type: 'string' },
  });
  const unknownTask = () => components.errorResponse('No such task (SB_ERR_NO_SUCH_TASK)');
  const items: Json = {
    '/_/tasks/{target}': {
      post: {
        operationId: 'tasks.launch',
        summary: 'Launch a function as a background task',
        description:
          'Admitted as POST /_/call/<name> is (same callers, keys and schemas); the task runs ' +
          'with no deadline unless X-Switchboard-Timeout-Ms gives one.',
        parameters: [target('The function to launch')],
        requestBody: {
          required: false,
          content: json({ type: 'array', description: "The function's arguments" }),
        },
        responses: {
          '202': {
            description: 'Launched; Location is the task',
            headers: { location: { schema: { type: 'string', format: 'uri' } } },
            content: json({
              type: 'object',
              required: ['id', 'url', 'status'],
              properties: {
                id: { type: 'string' },
                url: { type: 'string' },
                status: { enum: [...TASK_STATUSES] },
              },
            }),
          },
          '400': components.errorResponse('The arguments are not an array or break the schema'),
          '404': components.errorResponse('No function by that name this caller may call'),
          default: components.errorResponse('Refused (docs/errors.md)'),
        },
      },
      get: {
        operationId: 'tasks.get',
        summary: 'A task: status, state, result or error',
        parameters: [
          target('The task id'),
          {
            name: 'waitMs',
            in: 'query',
            required: false,
            description: 'Wait up to this long for the task to end (long poll)',
            schema: { type: 'integer', minimum: 0, maximum: MAX_TASK_WAIT_MS },
          },
        ],
        responses: {
          '200': { description: 'The task', content: json(task) },
          '400': components.errorResponse('A bad waitMs'),
          '404': unknownTask(),
        },
      },
      delete: {
        operationId: 'tasks.kill',
        summary: "Kill a task: its handler's signal fires, it ends killed",
        parameters: [target('The task id')],
        responses: {
          '200': {
            description: 'The task as it is after (an ended one unchanged)',
            content: json(task),
          },
          '404': unknownTask(),
        },
      },
    },
  };
  if (list) items['/_/tasks'] = { get: listOperation(components, task) };
  return items;
}

function listOperation(components: Components, task: Json): Json {
  components.useBearerAuth();
  const query = (name: string, schema: Json) => ({ name, in: 'query', required: false, schema });
  return {
    operationId: 'tasks.list',
    summary: 'Every task, newest first (server keys)',
    security: [{ [BEARER_AUTH]: [] }],
    parameters: [
      query('name', { type: 'string', minLength: 1, maxLength: 256 }),
      query('status', { enum: [...TASK_STATUSES] }),
      query('page', { type: 'integer', minimum: 1, maximum: 1_000_000, default: 1 }),
      query('results_per_page', {
        type: 'integer',
        minimum: 1,
        maximum: MAX_TASKS_PER_PAGE,
        default: DEFAULT_TASKS_PER_PAGE,
      }),
    ],
    responses: {
      '200': {
        description: 'A page of tasks',
        content: {
          'application/json': {
            schema: {
              type: 'object',
              required: ['num_results', 'total_pages', 'page', 'objects'],
              properties: {
                num_results: { type: 'integer' },
                total_pages: { type: 'integer' },
                page: { type: 'integer' },
                objects: { type: 'array', items: task },
              },
            },
          },
        },
      },
      '400': components.errorResponse('A bad filter or page'),
      '403': components.errorResponse('Not a server key (SB_ERR_PERMISSION_DENIED)'),
    },
  };
}
