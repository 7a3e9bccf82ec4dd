// The classic to-do REST API, served from an uplink, for many users: every request signs in
// with Basic credentials checked by the server (`authenticateUsers`), and each user sees and
// changes only their own tasks. Tasks live in this process's memory. `resource()` gives the
// conventions (docs/rest.md): paged list with `q` search, 201 + Location, 404, 204, 400, 405.
//   npx switchboard users add alice@example.com          (asks for a password)
//   SWITCHBOARD_KEY=sbk_s_... npx tsx examples/todo-api/uplink.ts
import { applyListQuery, connect, type HttpRequest } from '@switchboard/uplink';

interface Task {
  id: number;
  title: string;
  done: boolean;
  createdAt: string;
}

/** Each user's tasks, by the user id the server verified. */
const tasksOf = new Map<number, Map<number, Task>>();
let nextId = 1;

const uplink = await connect({
  url: process.env.SWITCHBOARD_URL ?? 'http://127.0.0.1:3030',
  key: process.env.SWITCHBOARD_KEY ?? '',
  name: 'todo-api',
}).catch((error: unknown) => {
  // One line, not a stack: the code says what is wrong (SB_ERR_AUTH_BAD_KEY: the key;
  // SB_ERR_CONNECTION_FAILED: no server at that URL).
  const { code, message } = error as { code?: string; message?: string };
  console.error(`[todo-api] could not connect: ${code ?? 'error'}: ${message ?? String(error)}`);
  process.exit(1);
});

/** The signed-in user's tasks (authenticateUsers guarantees a user): others' are not found. */
function mine(req: HttpRequest): Map<number, Task> {
  const id = req.user!.id;
  let tasks = tasksOf.get(id);
  if (tasks === undefined) tasksOf.set(id, (tasks = new Map<number, Task>()));
  return tasks;
}

uplink.resource<Task>(
  '/tasks',
  {
    list: (query, req) => applyListQuery(mine(req).values(), query),
    get: (id, req) => mine(req).get(Number(id)),
    create: (body, req) => {
      const createdAt = new Date().toISOString();
      const task = { id: nextId++, title: body.title!, done: body.done ?? false, createdAt };
      mine(req).set(task.id, task);
      return task;
    },
    // PUT sends title (and done, else false); PATCH only what changes.
    update: (id, body, req) => {
      const task = mine(req).get(Number(id));
      if (task === undefined) return undefined;
      return Object.assign(task, req.method === 'PUT' ? { done: false } : {}, body);
    },
    remove: (id, req) => mine(req).delete(Number(id)),
  },
  {
    // The server verifies the user before any request reaches this process.
    authenticateUsers: true,
    item: {
      type: 'object',
      required: ['id', 'title', 'done', 'createdAt'],
      properties: {
        id: { type: 'integer', readOnly: true },
        title: { type: 'string', pattern: '\\S', maxLength: 200 },
        done: { type: 'boolean', default: false },
        createdAt: { type: 'string', format: 'date-time', readOnly: true },
      },
    },
  },
);

await uplink.synced();
console.log('[todo-api] serving /_/api/tasks and /_/api/tasks/:id');

process.once('SIGINT', () => void uplink.close().then(() => process.exit(0)));
process.once('SIGTERM', () => void uplink.close().then(() => process.exit(0)));
