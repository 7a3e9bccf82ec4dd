import { SwitchboardError, checkJsonLimits, type DecodeLimits } from '@switchboard/shared';

// The frames of Anvil's uplink dialect (protocol version 8, anvil-runtime 34067eb) as this
// server receives them: JSON objects in text messages; binary messages carry media chunks only.
// See docs/anvil.md.

/** Where a non-JSON value sits in a message, and what it is (`objects` entries). */
export interface ObjectDescriptor {
  path: Array<string | number>;
  type: string[];
  [field: string]: unknown;
}

/** The uplink's first message: its key and protocol version. */
export interface KeyFrame {
  kind: 'key';
  key: string;
  v: number;
}

export interface RegisterFrame {
  kind: 'register';
  name: string;
}

/** A live-object backend (Data Tables-style classes): not served here. */
export interface RegisterBackendFrame {
  kind: 'register-backend';
  backend: string;
}

/** A call from the uplink (`anvil.server.call`, and the library's `anvil.private.*` calls). */
export interface AnvilCallFrame {
  kind: 'call';
  id: string;
  /** Absent for a live-object method call (`liveObjectCall`), which is refused. */
  command: string | undefined;
  args: unknown[];
  kwargs: Record<string, unknown>;
  /** The incoming call this one is made from, when it equals one in flight. */
  callStackId: string | undefined;
  objects: ObjectDescriptor[];
  /** A live-object method call (`liveObjectCall`; then `command` is absent). */
  liveObject?: LiveObjectCall;
}

/** A method called on a live object the server gave the uplink (e.g. a background task). */
export interface LiveObjectCall {
  backend: string;
  id: string;
  method: string;
}

/** The uplink's answer to a call this server sent it. */
export interface AnvilReplyFrame {
  kind: 'reply';
  id: string;
  ok: boolean;
  /** `response` when ok, else the `error` object. */
  value: unknown;
  objects: ObjectDescriptor[];
  /** A background task's `anvil.server.task_state` when it ended (a LAUNCH_BACKGROUND's reply). */
  taskState?: unknown;
}

/** Announces the binary message that follows: one chunk of a media value. */
export interface ChunkHeaderFrame {
  kind: 'chunk-header';
  requestId: string;
  mediaId: string;
  chunkIndex: number;
  lastChunk: boolean;
}

/** The sender gave up on media of a message (e.g. reading a file failed). */
export interface MediaErrorFrame {
  kind: 'media-error';
  requestId: string;
  mediaIds: string[];
  message: string;
}

/** Print output forwarded by the peer. */
export interface OutputFrame {
  kind: 'output';
  id: string | undefined;
  output: string;
}

/** A frame this server has no use for (another client's extension); logged and skipped. */
export interface IgnoredFrame {
  kind: 'ignored';
  what: string;
}

export type AnvilFrame =
  | KeyFrame
  | RegisterFrame
  | RegisterBackendFrame
  | AnvilCallFrame
  | AnvilReplyFrame
  | ChunkHeaderFrame
  | MediaErrorFrame
  | OutputFrame
  | IgnoredFrame;

/** Longest id, name or media id accepted (the real client's are 10–40 characters). */
const MAX_ID_LENGTH = 256;
/** Longest registered name (a regular expression for http endpoints). */
const MAX_NAME_LENGTH = 1024;

type Obj = Record<string, unknown>;

/**
 * The one gate for Anvil text messages: the JSON's size of structure is checked before it is
 * parsed, then the frame's fields; anything malformed throws SB_ERR_PROTO_BAD_FRAME.
 */
export function decodeAnvilText(text: string, limits: DecodeLimits): AnvilFrame {
  let raw: unknown;
  try {
    checkJsonLimits(text, limits);
    raw = JSON.parse(text);
  } catch (error) {
    throw bad(`not a JSON message: ${error instanceof Error ? error.message : String(error)}`);
  }
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw))
    throw bad('a message must be a JSON object');
  return decodeObject(raw as Obj);
}

function decodeObject(raw: Obj): AnvilFrame {
  // A reply or an output update has no type; it is told apart by its fields, in the order the
  // real client checks them (output first).
  if (typeof raw.output === 'string' && raw.type === undefined)
    return { kind: 'output', id: optionalId(raw, 'id'), output: raw.output };
  switch (raw.type) {
    case undefined:
      return untyped(raw);
    case 'REGISTER':
      return { kind: 'register', name: text(raw, 'name', MAX_NAME_LENGTH) };
    case 'REGISTER_LIVE_OBJECT_BACKEND':
      return { kind: 'register-backend', backend: text(raw, 'backend', MAX_NAME_LENGTH) };
    case 'CALL':
      return call(raw);
    case 'CHUNK_HEADER': {
      const chunkIndex = raw.chunkIndex;
      if (!Number.isSafeInteger(chunkIndex) || (chunkIndex as number) < 0)
        throw bad('chunkIndex must be a non-negative integer');
      if (typeof raw.lastChunk !== 'boolean') throw bad('lastChunk must be a boolean');
      return {
        kind: 'chunk-header',
        requestId: id(raw, 'requestId'),
        mediaId: id(raw, 'mediaId'),
        chunkIndex: chunkIndex as number,
        lastChunk: raw.lastChunk,
      };
    }
    case 'MEDIA_ERROR': {
      const ids = raw.mediaIds;
      if (!Array.isArray(ids) || !ids.every((item) => typeof item === 'string'))
        throw bad('mediaIds must be a list of strings');
      const cause = raw.cause as { message?: unknown } | null | undefined;
      const message = typeof cause?.message === 'string' ? cause.message : 'media failed';
      return {
        kind: 'media-error',
        requestId: id(raw, 'requestId'),
        mediaIds: ids,
        message,
      };
    }
    default:
      return {
        kind: 'ignored',
        what: typeof raw.type === 'string' ? raw.type.slice(0, 64) : 'a non-string type',
      };
  }
}

function untyped(raw: Obj): AnvilFrame {
  if (typeof raw.key === 'string' || typeof raw.v === 'number') {
    if (typeof raw.key !== 'string' || raw.key.length > MAX_ID_LENGTH)
      throw bad('key must be a string');
    if (typeof raw.v !== 'number') throw bad('v must be a number');
    return { kind: 'key', key: raw.key, v: raw.v };
  }
  const hasResponse = Object.hasOwn(raw, 'response');
  const hasError = Object.hasOwn(raw, 'error') && raw.error !== null;
  if (raw.id !== undefined && (hasResponse || hasError)) {
    const reply: AnvilReplyFrame = {
      kind: 'reply',
      id: id(raw, 'id'),
      ok: !hasError,
      value: hasError ? raw.error : raw.response,
      objects: objects(raw),
    };
    if (Object.hasOwn(raw, 'taskState')) reply.taskState = raw.taskState;
    return reply;
  }
  return { kind: 'ignored', what: raw.id === undefined ? 'an untyped message' : 'an update' };
}

function call(raw: Obj): AnvilCallFrame {
  const args = raw.args ?? [];
  if (!Array.isArray(args)) throw bad('args must be a list');
  const kwargs = raw.kwargs ?? {};
  if (typeof kwargs !== 'object' || kwargs === null || Array.isArray(kwargs))
    throw bad('kwargs must be an object or null');
  const command = raw.command;
  if (command !== undefined && typeof command !== 'string') throw bad('command must be a string');
  if (command === undefined && raw.liveObjectCall === undefined)
    throw bad('a CALL needs a command');
  const frame: AnvilCallFrame = {
    kind: 'call',
    id: id(raw, 'id'),
    command: command === undefined ? undefined : text(raw, 'command', MAX_NAME_LENGTH),
    args,
    kwargs: kwargs as Record<string, unknown>,
    callStackId: optionalId(raw, 'call-stack-id'),
    objects: objects(raw),
  };
  const live = raw.liveObjectCall;
  if (command === undefined && typeof live === 'object' && live !== null) {
    const fields = live as Obj;
    if (typeof fields.backend === 'string' && typeof fields.id === 'string')
      frame.liveObject = {
        backend: text(fields, 'backend', MAX_NAME_LENGTH),
        id: id(fields, 'id'),
        method: text(fields, 'method', MAX_NAME_LENGTH),
      };
  }
  return frame;
}

/** `objects`: absent, or descriptors whose path is a list of keys and indexes. */
function objects(raw: Obj): ObjectDescriptor[] {
  const list = raw.objects;
  if (list === undefined || list === null) return [];
  if (!Array.isArray(list)) throw bad('objects must be a list');
  for (const item of list as unknown[]) {
    const descriptor = item as Partial<ObjectDescriptor> | null;
    if (
      typeof descriptor !== 'object' ||
      descriptor === null ||
      !Array.isArray(descriptor.path) ||
      descriptor.path.length === 0 ||
      !descriptor.path.every((step) => typeof step === 'string' || Number.isSafeInteger(step)) ||
      !Array.isArray(descriptor.type) ||
      !descriptor.type.every((name) => typeof name === 'string')
    )
      throw bad('each entry of objects needs a path and a type list');
  }
  return list as ObjectDescriptor[];
}

function id(raw: Obj, field: string): string {
  return text(raw, field, MAX_ID_LENGTH);
}

function optionalId(raw: Obj, field: string): string | undefined {
  return raw[field] === undefined || raw[field] === null ? undefined : id(raw, field);
}

function text(raw: Obj, field: string, max: number): string {
  const value = raw[field];
  if (typeof value !== 'string' || value.length === 0 || value.length > max)
    throw bad(`${field} must be a string of 1 to ${max} characters`);
  return value;
}

function bad(message: string): SwitchboardError {
  return new SwitchboardError('SB_ERR_PROTO_BAD_FRAME', message);
}
