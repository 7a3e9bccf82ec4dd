// The classic to-do REST API, served from an uplink. Tasks live in this process's memory.
//   SWITCHBOARD_KEY=sbk_s_... npx tsx examples/todo-api/uplink.ts
import { HttpResponse, connect, type HttpRequest } from '@switchboard/uplink';

interface Task {
  id: number;
  title: string;
  done: boolean;
  createdAt: string;
}

const tasks = new Map<number, Task>();
let nextId = 1;

const uplink = await connect({
  url: process.env.SWITCHBOARD_URL ?? 'http://127.0.0.1:3030',
  key: process.env.SWITCHBOARD_KEY ?? '',
  name: 'todo-api',
});

function notFound(id: string): HttpResponse {
  return new HttpResponse(404, { message: `No task ${id}` });
}

function badRequest(message: string): HttpResponse {
  return new HttpResponse(400, { message });
}

/** Reads {title?, done?} from a JSON body; a string is returned as the error message. */
function readChanges(req: HttpRequest): { title?: string; done?: boolean } | string {
  const body = req.json as { title?: unknown; done?: unknown } | undefined;
  if (body === undefined || body === null || typeof body !== 'object') return 'Send a JSON object';
  if (body.title !== undefined && (typeof body.title !== 'string' || body.title.trim() === '')) {
    return 'title must be a non-empty string';
  }
  if (body.done !== undefined && typeof body.done !== 'boolean')
    return 'done must be true or false';
  return {
    ...(body.title === undefined ? {} : { title: body.title.trim() }),
    ...(body.done === undefined ? {} : { done: body.done }),
  };
}

uplink.httpEndpoint('/tasks', { methods: ['GET', 'POST'] }, (req) => {
  if (req.method === 'GET') {
    const done = req.query.done;
    const all = [...tasks.values()];
    return done === undefined ? all : all.filter((task) => String(task.done) === done);
  }
  const changes = readChanges(req);
  if (typeof changes === 'string') return badRequest(changes);
  if (changes.title === undefined) return badRequest('title is required');
  const task: Task = {
    id: nextId++,
    title: changes.title,
    done: changes.done ?? false,
    createdAt: new Date().toISOString(),
  };
  tasks.set(task.id, task);
  return new HttpResponse(201, task, { location: `${req.apiOrigin}/tasks/${task.id}` });
});

uplink.httpEndpoint('/tasks/:id', { methods: ['GET', 'PUT', 'DELETE'] }, (req) => {
  const task = tasks.get(Number(req.params.id));
  if (task === undefined) return notFound(req.params.id ?? '');
  if (req.method === 'GET') return task;
  if (req.method === 'DELETE') {
    tasks.delete(task.id);
    return undefined; // 204 No Content
  }
  const changes = readChanges(req);
  if (typeof changes === 'string') return badRequest(changes);
  Object.assign(task, changes);
  return task;
});

await uplink.synced();
console.log('[todo-api] serving /_/api/tasks and /_/api/tasks/:id');

process.once('SIGINT', () => void uplink.close().then(() => process.exit(0)));
process.once('SIGTERM', () => void uplink.close().then(() => process.exit(0)));
