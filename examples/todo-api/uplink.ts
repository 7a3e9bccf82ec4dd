// The classic to-do REST API, served from an uplink, for many users: every request signs in
// with Basic credentials checked by the server (`authenticateUsers`), and each user sees and
// changes only their own tasks. Tasks live in this process's memory.
//   npx switchboard users add alice@example.com          (asks for a password)
//   SWITCHBOARD_KEY=sbk_s_... npx tsx examples/todo-api/uplink.ts
import { HttpResponse, connect, type HttpRequest } from '@switchboard/uplink';

interface Task {
  id: number;
  title: string;
  done: boolean;
  createdAt: string;
  /** The owner's user id; never shown in answers. */
  owner: number;
}

const tasks = new Map<number, Task>();
let nextId = 1;
/** Both endpoints: the server verifies the user before any request reaches this process. */
const SIGNED_IN = { authenticateUsers: true } as const;

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

/** The signed-in user's id (authenticateUsers guarantees there is one). */
function ownerOf(req: HttpRequest): number {
  return req.user!.id;
}

/** A task as answered: without its owner. */
function view({ owner: _owner, ...task }: Task): Omit<Task, 'owner'> {
  return task;
}

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

uplink.httpEndpoint('/tasks', { methods: ['GET', 'POST'], ...SIGNED_IN }, (req) => {
  const owner = ownerOf(req);
  if (req.method === 'GET') {
    const done = req.query.done;
    const mine = [...tasks.values()].filter((task) => task.owner === owner);
    return (done === undefined ? mine : mine.filter((task) => String(task.done) === done)).map(
      view,
    );
  }
  const changes = readChanges(req);
  if (typeof changes === 'string') return badRequest(changes);
  if (changes.title === undefined) return badRequest('title is required');
  const task: Task = {
    id: nextId++,
    title: changes.title,
    done: changes.done ?? false,
    createdAt: new Date().toISOString(),
    owner,
  };
  tasks.set(task.id, task);
  return new HttpResponse(201, view(task), { location: `${req.apiOrigin}/tasks/${task.id}` });
});

uplink.httpEndpoint('/tasks/:id', { methods: ['GET', 'PUT', 'DELETE'], ...SIGNED_IN }, (req) => {
  const task = tasks.get(Number(req.params.id));
  // Someone else's task is answered exactly like a missing one.
  if (task === undefined || task.owner !== ownerOf(req)) return notFound(req.params.id ?? '');
  if (req.method === 'GET') return view(task);
  if (req.method === 'DELETE') {
    tasks.delete(task.id);
    return undefined; // 204 No Content
  }
  const changes = readChanges(req);
  if (typeof changes === 'string') return badRequest(changes);
  Object.assign(task, changes);
  return view(task);
});

await uplink.synced();
console.log('[todo-api] serving /_/api/tasks and /_/api/tasks/:id');

process.once('SIGINT', () => void uplink.close().then(() => process.exit(0)));
process.once('SIGTERM', () => void uplink.close().then(() => process.exit(0)));
