import { randomBytes } from 'node:crypto';
import type { TestContext } from 'node:test';
import WebSocket from 'ws';

// A test client for Anvil's uplink dialect that sends frames as the real Python `anvil-uplink`
// library does (protocol version 8; docs/anvil-protocol-notes.md): JSON text messages, media as
// `objects` descriptors plus CHUNK_HEADER / binary pairs, the http_endpoint wrapper's kwargs
// and answers. Everything the server sends is kept in `frames` for assertions.

export type Json = Record<string, unknown>;

/** A media value as the library holds one (BlobMedia going out, StreamingMedia coming in). */
export class BlobMedia {
  constructor(
    readonly contentType: string,
    readonly bytes: Buffer,
    readonly name: string | null = null,
  ) {}
}

/** An error with an Anvil type: raised by a handler, or the server's answer to a call. */
export class AnvilError extends Error {
  constructor(
    readonly type: string,
    message: string,
    /** The whole error object as received (`code` rides along from Switchboard). */
    readonly raw: Json = {},
  ) {
    super(message);
  }
}

/** `anvil.server.HttpResponse`: its headers go out as a list of `[lower-case name, value]`. */
export class HttpResponse {
  constructor(
    readonly status: number,
    readonly body: unknown,
    readonly headers: Record<string, string> = {},
  ) {}
}

/** What a handler can do while it runs: nested calls go out in this call's context. */
export interface CallContext {
  readonly id: string;
  call(command: string, args?: unknown[], kwargs?: Json | null): Promise<unknown>;
}

export type Handler = (args: unknown[], kwargs: Json, context: CallContext) => unknown;

/** The kwargs the http_endpoint wrapper takes (`anvil.server.request`), after decoding. */
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
  same_app_alternate_origin?: string | null;
}

export type EndpointHandler = (
  request: AnvilRequest,
  params: Record<string, unknown>,
  context: CallContext,
) => unknown;

export interface Registrations {
  /** `@anvil.server.callable`: name → handler. */
  functions?: Record<string, Handler>;
  /** `@anvil.server.http_endpoint(path, methods=…)`. */
  endpoints?: Array<{ path: string; methods?: string[]; handler: EndpointHandler }>;
  /** REGISTER names sent as they are, with no local function (calls find none). */
  raw?: string[];
}

const CHUNK_BYTES = 65_536;
const WRAPPER_KWARGS = [
  'method',
  'path',
  'query_params',
  'form_params',
  'origin',
  'headers',
  'remote_address',
  'body',
  'username',
  'password',
];

/** `random_string(10)`: the library's call and media ids. */
export function randomId(length = 10): string {
  return randomBytes(length * 2)
    .toString('base64')
    .replace(/[^A-Za-z0-9]/g, '')
    .slice(0, length);
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
    for (const name of WRAPPER_KWARGS)
      if (!(name in kwargs))
        throw new AnvilError('TypeError', `wrapped_fn() missing required argument: '${name}'`);
    const request = kwargs as unknown as AnvilRequest;
    if (!methods.includes(request.method))
      return { status: 405, body: 'Method not supported', headers: { Allow: methods.join(', ') } };
    const match = new RegExp(`^${regex}`).exec(request.path);
    if (match === null) throw new AnvilError('AttributeError', "'NoneType' has no 'groups'");
    const params = { ...request.form_params, ...request.query_params };
    names.forEach((name, i) => (params[name] = match[i + 1]));
    const result = await handler(request, params, context);
    if (result instanceof HttpResponse) {
      const headers = Object.entries(result.headers).map(([k, v]) => [k.toLowerCase(), v]);
      return { status: result.status, body: result.body, headers };
    }
    return { status: 200, body: result, headers: {} };
  };
  return [`http:${regex}`, wrapped];
}

/** `YYYY-MM-DD HH:MM:SS.ffffff+0000`, as the library writes an aware UTC datetime. */
export function anvilDateTime(date: Date): string {
  const iso = date.toISOString();
  return `${iso.slice(0, 10)} ${iso.slice(11, 23)}000+0000`;
}

/** Media of one message still arriving, chunk by chunk. */
interface Receiving {
  message: Json;
  open: Map<string, Buffer[]>;
  done: Map<string, Buffer>;
  ready: () => void;
}

export class AnvilClient {
  /** Every text message from the server, as parsed JSON, in order. */
  readonly frames: Json[] = [];
  /** Sizes of the binary messages from the server. */
  readonly binarySizes: number[] = [];
  /** What this client would have crashed on (the Python reader thread dies). */
  readonly violations: string[] = [];
  readonly closed: Promise<{ code: number; reason: string }>;
  private readonly handlers: Array<{ pattern: RegExp; handler: Handler }> = [];
  private readonly names: string[] = [];
  private readonly inbox: Json[] = [];
  private readonly waiters: Array<(frame: Json) => void> = [];
  private readonly pending = new Map<string, (reply: Json) => void>();
  private readonly receiving = new Map<string, Receiving>();
  private header: Json | undefined;
  /** The `call-stack-id` of calls made outside a handler (one per thread in Python). */
  private readonly threadId = `outbound-${randomId()}`;

  constructor(
    readonly ws: WebSocket,
    /** null: send nothing on open (to speak frames by hand). */
    key: string | null,
    registrations: Registrations = {},
  ) {
    for (const [name, handler] of Object.entries(registrations.functions ?? {}))
      this.add(name, handler);
    for (const { path, methods, handler } of registrations.endpoints ?? [])
      this.add(...httpEndpoint(path, handler, methods));
    this.names.push(...(registrations.raw ?? []));
    this.closed = new Promise((resolve) =>
      ws.on('close', (code, reason) => {
        for (const settle of this.pending.values())
          settle({ error: { message: 'Connection to Anvil Uplink server lost' } });
        this.pending.clear();
        resolve({ code, reason: reason.toString() });
      }),
    );
    ws.on('message', (data: Buffer, isBinary) => this.received(data, isBinary));
    // opened(): the key, then at once (no waiting for the answer) one REGISTER per function.
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

  /** The next message that is not a call, an answer to one of ours, or a chunk. */
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

  /** The CALL frames received so far, as they came (before media and objects were applied). */
  get calls(): Json[] {
    return this.frames.filter((frame) => frame.type === 'CALL');
  }

  /** `anvil.server.call`: from a handler pass its id (`from`) to act in that call's context. */
  call(command: string, args: unknown[] = [], kwargs: Json | null = {}, from?: string) {
    const id = randomId();
    const answer = new Promise<Json>((resolve) => this.pending.set(id, resolve));
    this.send({
      type: 'CALL',
      id,
      args,
      kwargs,
      'call-stack-id': from ?? this.threadId,
      'originating-call': from ?? null,
      'step-in': false,
      paused: false,
      'span-ctx': null,
      command,
    });
    return answer.then((reply) => {
      if (Object.hasOwn(reply, 'response')) return reply.response;
      const error = (reply.error ?? {}) as Json;
      throw new AnvilError(String(error.type), String(error.message), error);
    });
  }

  /** A JSON message with its values' descriptors, then its media's chunk pairs. */
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
    const json = walk(message, []) as Json;
    this.sendJson({ ...json, objects });
    for (const { id, bytes } of media) {
      let chunkIndex = 0;
      for (let offset = 0; offset === 0 || offset < bytes.length; offset += CHUNK_BYTES) {
        const end = Math.min(offset + CHUNK_BYTES, bytes.length);
        const lastChunk = end === bytes.length;
        const requestId = message.id;
        this.sendJson({ type: 'CHUNK_HEADER', requestId, mediaId: id, chunkIndex, lastChunk });
        this.ws.send(bytes.subarray(offset, end));
        chunkIndex++;
        if (lastChunk) break;
      }
    }
  }

  sendJson(json: Json): void {
    this.ws.send(JSON.stringify(json));
  }

  private received(data: Buffer, isBinary: boolean): void {
    if (isBinary) {
      this.binarySizes.push(data.byteLength);
      const header = this.header;
      this.header = undefined;
      const receiving = this.receiving.get(String(header?.requestId));
      const chunks = receiving?.open.get(String(header?.mediaId));
      if (header === undefined || receiving === undefined || chunks === undefined) {
        this.violations.push('a binary message that no CHUNK_HEADER announced');
        this.ws.terminate();
        return;
      }
      chunks.push(data);
      if (header.lastChunk !== true) return;
      receiving.open.delete(String(header.mediaId));
      receiving.done.set(String(header.mediaId), Buffer.concat(chunks));
      if (receiving.open.size > 0) return;
      this.receiving.delete(String(header.requestId));
      this.decode(receiving.message, receiving.done);
      receiving.ready();
      return;
    }
    const frame = JSON.parse(data.toString('utf8')) as Json;
    this.frames.push(frame);
    const message = JSON.parse(data.toString('utf8')) as Json; // decoded in place
    const id = typeof message.id === 'string' ? message.id : undefined;
    if (message.type === 'CHUNK_HEADER') this.header = message;
    else if (typeof message.output === 'string') this.deliver(message);
    else if (message.type === 'CALL' && id !== undefined)
      this.whenComplete(message, () => void this.serve(message, id));
    else if (
      id !== undefined &&
      this.pending.has(id) &&
      ('response' in message || 'error' in message)
    )
      this.whenComplete(message, () => {
        this.pending.get(id)?.(message);
        this.pending.delete(id);
      });
    else this.deliver(message);
  }

  private deliver(message: Json): void {
    const wake = this.waiters.shift();
    if (wake !== undefined) wake(message);
    else this.inbox.push(message);
  }

  /** Runs `ready` once every DataMedia of the message has arrived. */
  private whenComplete(message: Json, ready: () => void): void {
    const objects = (message.objects ?? []) as Json[];
    const ids = objects.filter((o) => (o.type as string[])[0] === 'DataMedia').map((o) => o.id);
    if (ids.length === 0) {
      this.decode(message, new Map());
      ready();
      return;
    }
    const open = new Map(ids.map((mediaId) => [String(mediaId), [] as Buffer[]]));
    this.receiving.set(String(message.id), { message, open, done: new Map(), ready });
  }

  /** Puts the values `objects` describes at their paths (SRV:1166-1221). */
  private decode(message: Json, media: Map<string, Buffer>): void {
    for (const object of (message.objects ?? []) as Json[]) {
      const path = object.path as Array<string | number>;
      const type = (object.type as string[])[0];
      let value: unknown;
      if (type === 'DataMedia') {
        const name = typeof object.name === 'string' ? object.name : null;
        value = new BlobMedia(String(object['mime-type']), media.get(String(object.id))!, name);
      } else if (type === 'DateTime') {
        const text = String(object.value);
        value = new Date(`${text.slice(0, 10)}T${text.slice(11, 23)}${text.slice(26)}`);
      } else if (type === 'Long') value = BigInt(String(object.value));
      else {
        this.violations.push(`objects of type ${type}`);
        continue;
      }
      let container = message as Record<string | number, unknown>;
      for (const step of path.slice(0, -1))
        container = container[step] as Record<string | number, unknown>;
      container[path[path.length - 1]!] = value;
    }
  }

  /** An incoming CALL: the registered function whose regex matches, answered by id. */
  private async serve(message: Json, id: string): Promise<void> {
    const command = String(message.command);
    const found = this.handlers.find(({ pattern }) => pattern.test(command));
    const context: CallContext = {
      id,
      call: (name, args, kwargs) => this.call(name, args, kwargs, id),
    };
    let reply: Json;
    try {
      if (found === undefined) {
        const text = `No server function matching "${command}" has been registered`;
        throw new AnvilError('anvil.server.NoServerFunctionError', text);
      }
      const args = message.args as unknown[];
      const response = await found.handler(args, message.kwargs as Json, context);
      const sessionData = { session: null, objects: [] };
      reply = { id, response, sessionData, cacheUpdates: {}, importDuration: null };
    } catch (error) {
      const type = error instanceof AnvilError ? error.type : (error as Error).name;
      const trace = [['anvil-client.ts', 1]];
      reply = { error: { type, message: (error as Error).message, trace }, id };
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
  await new Promise<void>((resolve, reject) => {
    ws.once('open', () => resolve());
    ws.once('error', reject);
  });
  return client;
}

/**
 * Connects and waits for `{"auth": "OK"}`, then for an echo sent after the REGISTERs (the
 * server handles messages in order and acknowledges no REGISTER, so this says they are done).
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
