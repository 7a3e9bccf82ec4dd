import { randomBytes } from 'node:crypto';
import type { TestContext } from 'node:test';
import WebSocket from 'ws';

// A test client for Anvil's uplink dialect that sends what the Python `anvil-uplink` library
// sends (protocol version 8; docs/anvil-protocol-notes.md): JSON text messages, media as
// `objects` descriptors plus CHUNK_HEADER / binary pairs, the http_endpoint wrapper's kwargs and
// answers. Every text message from the server is kept, as it came, in `frames`.

export type Json = Record<string, unknown>;

/** A media value as the library holds one (BlobMedia going out, StreamingMedia coming in). */
export class BlobMedia {
  constructor(
    readonly contentType: string,
    readonly bytes: Buffer,
    readonly name: string | null = null,
  ) {}
}

/** An error with an Anvil type: raised by a handler, or the answer to one of our calls. */
export class AnvilError extends Error {
  constructor(
    readonly type: string,
    message: string,
    /** The whole error object as received (Switchboard's `code` rides along in it). */
    readonly raw: Json = {},
  ) {
    super(message);
  }
}

/** `anvil.server.HttpResponse`: the wrapper sends its headers as `[lower-case name, value]`. */
export class HttpResponse {
  constructor(
    readonly status: number,
    readonly body: unknown,
    readonly headers: Record<string, string> = {},
  ) {}
}

/** A running handler's call: nested calls from it go out in its context (cookies, user). */
export interface CallContext {
  readonly id: string;
  call(command: string, args?: unknown[], kwargs?: Json | null): Promise<unknown>;
  /** `anvil.server.task_state` of a background task (LAUNCH_BACKGROUND); `{}` otherwise. */
  readonly taskState: Json;
}

/** A live object the server gave us (`LiveObjectProxy`): its methods are calls to the server. */
export class LiveObject {
  constructor(
    private readonly client: AnvilClient,
    readonly spec: Json,
  ) {}

  get id(): string {
    return String(this.spec.id);
  }

  /** `obj.method(*args)`: a CALL with `liveObjectCall` and no `command` (TS:455-457). */
  call(method: string, args: unknown[] = []): Promise<unknown> {
    const { id, backend, mac, permissions } = this.spec;
    return this.client.callLive({ id, backend, mac, permissions, method }, args);
  }
}

export type Handler = (args: unknown[], kwargs: Json, context: CallContext) => unknown;

/** The wrapper's kwargs (`anvil.server.request`), decoded. */
export interface AnvilRequest {
  method: string;
  path: string;
  query_params: Record<string, string>;
  form_params: Record<string, unknown>;
  origin: string | null;
  headers: Record<string, string>;
  remote_address: string;
  body: BlobMedia | null;
  username: string | null;
  password: string | null;
}

export type EndpointHandler = (
  request: AnvilRequest,
  params: Json,
  context: CallContext,
) => unknown;

export interface Registrations {
  /** `@anvil.server.callable`: name → handler. */
  functions?: Record<string, Handler>;
  /** `@anvil.server.background_task`: name → handler (registered as `task:<name>`). */
  tasks?: Record<string, Handler>;
  /** `@anvil.server.http_endpoint(path, methods=…)`. */
  endpoints?: Array<{ path: string; methods?: string[]; handler: EndpointHandler }>;
  /** REGISTER names sent as they are, with no local function (calls find none). */
  raw?: string[];
}

const CHUNK_BYTES = 65_536;
/** The wrapper's required keyword arguments (SRV:1547); `same_app_alternate_origin` is optional. */
const WRAPPER_KWARGS =
  'method path query_params form_params origin headers remote_address body username password';

/** `random_string(10)`: the library's call and media ids. */
export function randomId(): string {
  return randomBytes(32).toString('base64').replace(/[+/=]/g, '').slice(0, 10);
}

/** `YYYY-MM-DD HH:MM:SS.ffffff+0000`, as the library writes an aware UTC datetime. */
export function anvilDateTime(date: Date): string {
  const iso = date.toISOString();
  return `${iso.slice(0, 10)} ${iso.slice(11, 23)}000+0000`;
}

/** `@anvil.server.http_endpoint`: the REGISTER name and the wrapper (SRV:1536-1633). */
export function httpEndpoint(
  path: string,
  handler: EndpointHandler,
  methods = ['GET', 'POST'],
): [string, Handler] {
  const names: string[] = [];
  const regex = path.replace(/:([^/]*)/g, (_all, name: string) => {
    names.push(name);
    return '([^/]*)';
  });
  const wrapped: Handler = async (_args, kwargs, context) => {
    for (const name of WRAPPER_KWARGS.split(' '))
      if (!(name in kwargs))
        throw new AnvilError('TypeError', `wrapped_fn() missing required argument: '${name}'`);
    const request = kwargs as unknown as AnvilRequest;
    if (!methods.includes(request.method))
      return { status: 405, body: 'Method not supported', headers: { Allow: methods.join(', ') } };
    const match = new RegExp(`^${regex}`).exec(request.path);
    if (match === null) throw new AnvilError('AttributeError', "'NoneType' has no 'groups'");
    // kwargs: form_params, overridden by query_params, overridden by path params.
    const params: Json = { ...request.form_params, ...request.query_params };
    names.forEach((name, i) => (params[name] = match[i + 1]));
    const result = await handler(request, params, context);
    if (!(result instanceof HttpResponse)) return { status: 200, body: result, headers: {} };
    const headers = Object.entries(result.headers).map(([k, v]) => [k.toLowerCase(), v]);
    return { status: result.status, body: result.body, headers };
  };
  return [`http:${regex}`, wrapped];
}

export class AnvilClient {
  readonly frames: Json[] = [];
  /** Sizes of the binary messages from the server. */
  readonly binarySizes: number[] = [];
  /** What the library would have crashed on (its reader thread dies, the socket drops). */
  readonly violations: string[] = [];
  readonly closed: Promise<{ code: number; reason: string }>;
  private readonly names: string[] = [];
  private readonly handlers: Array<{ pattern: RegExp; handler: Handler }> = [];
  private readonly inbox: Json[] = [];
  private readonly waiters: Array<(frame: Json) => void> = [];
  private readonly pending = new Map<string, (reply: Json) => void>();
  /** Messages whose media are still arriving: media id → chunks so far, for those still open. */
  private readonly receiving = new Map<
    string,
    { message: Json; open: Map<string, Buffer[]>; done: Map<string, Buffer>; ready: () => void }
  >();
  private header: Json | undefined;
  /** `call-stack-id` of calls made outside a handler (per thread in the library). */
  private readonly threadId = `outbound-${randomId()}`;
  /** `task_state` of the background tasks running, by their LAUNCH_BACKGROUND id (UP:140-147). */
  private readonly ongoingTasks = new Map<string, Json>();

  /** `key` null: nothing is sent on open (frames by hand). */
  constructor(
    readonly ws: WebSocket,
    key: string | null,
    registrations: Registrations = {},
  ) {
    for (const [name, handler] of Object.entries(registrations.functions ?? {}))
      this.add(name, handler);
    for (const [name, handler] of Object.entries(registrations.tasks ?? {}))
      this.add(`task:${name}`, handler);
    for (const { path, methods, handler } of registrations.endpoints ?? [])
      this.add(...httpEndpoint(path, handler, methods));
    this.names.push(...(registrations.raw ?? []));
    this.closed = new Promise((resolve) =>
      ws.on('close', (code, reason) => {
        for (const settle of [...this.pending.values()])
          settle({ error: { message: 'Connection to Anvil Uplink server lost' } });
        resolve({ code, reason: reason.toString() });
      }),
    );
    ws.on('message', (data: Buffer, isBinary) => this.received(data, isBinary));
    // opened(): the key, then at once (not waiting for its answer) a REGISTER per function.
    ws.on('open', () => {
      if (key === null) return;
      this.sendJson({ key, v: 8 });
      for (const name of this.names) this.sendJson({ type: 'REGISTER', name });
    });
  }

  private add(name: string, handler: Handler): void {
    this.names.push(name);
    this.handlers.push({ pattern: new RegExp(`^(?:${name})$`), handler });
  }

  /** The next message that is not a CALL, an answer to one of our calls, or a chunk. */
  next(timeoutMs = 5000): Promise<Json> {
    const queued = this.inbox.shift();
    if (queued !== undefined) return Promise.resolve(queued);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('no message arrived')), timeoutMs);
      this.waiters.push((frame) => {
        clearTimeout(timer);
        resolve(frame);
      });
    });
  }

  /** The CALLs received, as they came (placeholders and `objects` as sent). */
  get calls(): Json[] {
    return this.frames.filter((frame) => frame.type === 'CALL');
  }

  /** `anvil.server.call`; from a handler, `from` is its call's id (TS:415-466). */
  async call(command: string, args: unknown[] = [], kwargs: Json | null = {}, from?: string) {
    const id = randomId();
    const answer = new Promise<Json>((resolve) => this.pending.set(id, resolve));
    const stack = { 'call-stack-id': from ?? this.threadId, 'originating-call': from ?? null };
    const debug = { 'step-in': false, paused: false, 'span-ctx': null };
    this.send({ type: 'CALL', id, args, kwargs, ...stack, ...debug, command });
    const reply = await answer;
    this.pending.delete(id);
    if (Object.hasOwn(reply, 'response')) return reply.response;
    const error = (reply.error ?? {}) as Json;
    throw new AnvilError(String(error.type), String(error.message), error);
  }

  /** A method call on a live object (the library's `_do_call` with `live_object`). */
  async callLive(liveObjectCall: Json, args: unknown[]): Promise<unknown> {
    const id = randomId();
    const answer = new Promise<Json>((resolve) => this.pending.set(id, resolve));
    const stack = { 'call-stack-id': this.threadId, 'originating-call': null };
    this.send({ type: 'CALL', id, args, kwargs: {}, ...stack, liveObjectCall });
    const reply = await answer;
    this.pending.delete(id);
    if (Object.hasOwn(reply, 'response')) return reply.response;
    const error = (reply.error ?? {}) as Json;
    throw new AnvilError(String(error.type), String(error.message), error);
  }

  /** A message: its JSON with the `objects` descriptors, then each media's chunk pairs. */
  send(message: Json): void {
    const objects: Json[] = [];
    const media: Array<{ id: string; bytes: Buffer }> = [];
    const walk = (value: unknown, path: Array<string | number>): unknown => {
      if (value instanceof BlobMedia) {
        const id = randomId();
        const { contentType, name } = value;
        objects.push({ type: ['DataMedia'], id, 'mime-type': contentType, name, path });
        media.push({ id, bytes: value.bytes });
        return null;
      }
      if (value instanceof Date) {
        objects.push({ type: ['DateTime'], value: anvilDateTime(value), path });
        return null;
      }
      if (Array.isArray(value)) return value.map((item, i) => walk(item, [...path, i]));
      if (typeof value !== 'object' || value === null) return value;
      const entries = Object.entries(value).map(([k, v]) => [k, walk(v, [...path, k])]);
      return Object.fromEntries(entries) as unknown;
    };
    this.sendJson({ ...(walk(message, []) as Json), objects });
    for (const { id, bytes } of media) {
      // An empty media is one empty last chunk.
      for (let at = 0, chunkIndex = 0; at === 0 || at < bytes.length; at += CHUNK_BYTES) {
        const lastChunk = at + CHUNK_BYTES >= bytes.length;
        const header = { requestId: message.id, mediaId: id, chunkIndex: chunkIndex++, lastChunk };
        this.sendJson({ type: 'CHUNK_HEADER', ...header });
        this.ws.send(bytes.subarray(at, at + CHUNK_BYTES));
        if (lastChunk) break;
      }
    }
  }

  sendJson(json: Json): void {
    this.ws.send(JSON.stringify(json));
  }

  private received(data: Buffer, isBinary: boolean): void {
    if (isBinary) return this.chunk(data);
    this.frames.push(JSON.parse(data.toString('utf8')) as Json);
    const message = JSON.parse(data.toString('utf8')) as Json; // a copy, decoded in place
    const id = typeof message.id === 'string' ? message.id : undefined;
    const settle = id === undefined ? undefined : this.pending.get(id);
    // In the library's order: output before CALL before answers (UP:268-310).
    if (message.type === 'CHUNK_HEADER') this.header = message;
    else if (typeof message.output === 'string') this.deliver(message);
    else if (message.type === 'CALL' && id !== undefined)
      this.whenComplete(message, () => void this.serve(message, id));
    else if (message.type === 'LAUNCH_BACKGROUND' && id !== undefined)
      this.whenComplete(message, () => void this.serve(message, id, {}));
    else if (message.type === 'GET_TASK_STATE' && id !== undefined) this.taskState(message, id);
    else if (settle !== undefined && ('response' in message || 'error' in message))
      this.whenComplete(message, () => settle(message));
    else this.deliver(message);
  }

  /** A binary message: the chunk its CHUNK_HEADER announced (SER:117-125). */
  private chunk(data: Buffer): void {
    this.binarySizes.push(data.byteLength);
    const { requestId, mediaId, lastChunk } = this.header ?? {};
    this.header = undefined;
    const receiving = this.receiving.get(String(requestId));
    const chunks = receiving?.open.get(String(mediaId));
    if (receiving === undefined || chunks === undefined) {
      this.violations.push('a binary message that no CHUNK_HEADER announced');
      return this.ws.terminate();
    }
    chunks.push(data);
    if (lastChunk !== true) return;
    receiving.open.delete(String(mediaId));
    receiving.done.set(String(mediaId), Buffer.concat(chunks));
    if (receiving.open.size > 0) return;
    this.receiving.delete(String(requestId));
    this.decode(receiving.message, receiving.done);
    receiving.ready();
  }

  private deliver(message: Json): void {
    const wake = this.waiters.shift();
    if (wake !== undefined) wake(message);
    else this.inbox.push(message);
  }

  /** Runs `ready` once every DataMedia of the message has arrived (SER:94-110). */
  private whenComplete(message: Json, ready: () => void): void {
    const objects = (message.objects ?? []) as Json[];
    const ids = objects.filter((o) => (o.type as string[])[0] === 'DataMedia').map((o) => o.id);
    if (ids.length > 0) {
      const open = new Map(ids.map((mediaId) => [String(mediaId), [] as Buffer[]]));
      this.receiving.set(String(message.id), { message, open, done: new Map(), ready });
      return;
    }
    this.decode(message, new Map());
    ready();
  }

  /** Puts the values `objects` describes at their paths (SRV:1166-1221). */
  private decode(message: Json, media: Map<string, Buffer>): void {
    for (const object of (message.objects ?? []) as Json[]) {
      const [type] = object.type as string[];
      const text = String(object.value);
      let value: unknown;
      if (type === 'DataMedia') {
        const name = typeof object.name === 'string' ? object.name : null;
        value = new BlobMedia(String(object['mime-type']), media.get(String(object.id))!, name);
      } else if (type === 'DateTime')
        value = new Date(`${text.slice(0, 10)}T${text.slice(11, 23)}${text.slice(26)}`);
      else if (type === 'Date') value = new Date(`${text}T00:00:00Z`);
      else if (type === 'Long') value = BigInt(text);
      else if (type === 'Float')
        value = Number(text); // Infinity, -Infinity, NaN
      else if (type === 'LiveObject') {
        for (const field of ['id', 'backend', 'mac', 'permissions', 'methods'])
          if (!(field in object)) this.violations.push(`a LiveObject without ${field}`);
        value = new LiveObject(this, object);
      } else {
        this.violations.push(`objects of type ${type}`);
        continue;
      }
      const path = object.path as Array<string | number>;
      let container = message as Record<string | number, unknown>;
      for (const step of path.slice(0, -1)) container = container[step] as typeof container;
      container[path.at(-1)!] = value;
    }
  }

  /** GET_TASK_STATE: the running task's state, or NotRunningTask (UP:274-294). */
  private taskState(message: Json, id: string): void {
    const state = this.ongoingTasks.get(String(message.task));
    if (state !== undefined) this.send({ id, response: { ...state } });
    else {
      const error = { type: 'anvil.server.NotRunningTask', message: 'No such task running' };
      this.sendJson({ id, error });
    }
  }

  /**
   * An incoming CALL (or LAUNCH_BACKGROUND, with its `task_state`): the function whose regex
   * matches the command, answered by id; a task's answer carries its state (TS:312-342).
   */
  private async serve(message: Json, id: string, taskState?: Json): Promise<void> {
    const command = String(message.command);
    const found = this.handlers.find(({ pattern }) => pattern.test(command));
    const context: CallContext = {
      id,
      call: (...call) => this.call(...call, id),
      taskState: taskState ?? {},
    };
    if (taskState !== undefined) this.ongoingTasks.set(id, taskState);
    let reply: Json;
    try {
      if (found === undefined) {
        const text = `No server function matching "${command}" has been registered`;
        throw new AnvilError('anvil.server.NoServerFunctionError', text);
      }
      const response = await found.handler(
        message.args as unknown[],
        message.kwargs as Json,
        context,
      );
      const sessionData = { session: null, objects: [] };
      reply = { id, response, sessionData, cacheUpdates: {}, importDuration: null };
    } catch (error) {
      const { name, message: text } = error as Error;
      const type = error instanceof AnvilError ? error.type : name;
      reply = { error: { type, message: text, trace: [['anvil-client.ts', 1]] }, id };
      if (taskState !== undefined) (reply.error as Json).taskState = { ...taskState };
    }
    if (taskState !== undefined) {
      this.ongoingTasks.delete(id);
      if ('response' in reply) reply.taskState = { ...taskState };
    }
    if (this.ws.readyState === WebSocket.OPEN) this.send(reply);
  }
}

/** Opens a socket and sends the key and REGISTERs; the auth answer is the first `next()`. */
export async function openAnvil(
  t: TestContext,
  wsUrl: string,
  key: string | null,
  registrations?: Registrations,
): Promise<AnvilClient> {
  const ws = new WebSocket(wsUrl);
  t.after(() => ws.terminate());
  const client = new AnvilClient(ws, key, registrations);
  await new Promise((resolve, reject) => ws.once('open', resolve).once('error', reject));
  return client;
}

/**
 * Connects, waits for `{"auth": "OK"}`, then for an echo sent after the REGISTERs: the server
 * handles messages in order and acknowledges no REGISTER, so the echo says they are done.
 */
export async function connectAnvil(
  t: TestContext,
  wsUrl: string,
  key: string,
  registrations?: Registrations,
): Promise<AnvilClient> {
  const client = await openAnvil(t, wsUrl, key, registrations);
  const auth = await client.next();
  if (auth.auth !== 'OK') throw new Error(`not authenticated: ${JSON.stringify(auth)}`);
  await client.call('anvil.private.echo', ['registered?']);
  return client;
}
