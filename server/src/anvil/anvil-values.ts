import { Media, SwitchboardError, type WireError } from '@switchboard/shared';
import type { ObjectDescriptor } from './anvil-frames.ts';

// Values between Anvil's JSON-with-descriptors form and Switchboard's values. In a message,
// each value JSON cannot carry sits as `null` at its place and is described in `objects` by its
// path from the top of the message (`["args", 0]`, `["response", "body"]`).

/** A media value on its way out: the descriptor's id and the bytes the chunks carry. */
export interface OutgoingMedia {
  id: string;
  bytes: Uint8Array;
}

/** A message ready to send: its JSON form and the media to chunk after it. */
export interface Serialised {
  json: Record<string, unknown>;
  objects: ObjectDescriptor[];
  media: OutgoingMedia[];
}

/**
 * A live object the server hands an uplink (Anvil's `LiveObjectProxy`): the script calls its
 * `methods`, which come back as CALLs with `liveObjectCall` naming `backend` and `id`.
 */
export class AnvilLiveObject {
  constructor(
    readonly backend: string,
    readonly id: string,
    readonly methods: readonly string[],
  ) {}
}

/** Largest int Anvil's client sends as a JSON number; larger ones travel as `Long`. */
const MAX_PLAIN_INT = 2147483647;

/**
 * Turns `message` (whose values may hold Media, bytes, dates, big ints, non-finite numbers)
 * into JSON plus descriptors. `nextMediaId` names each media (unique within the connection).
 */
export function serialise(message: Record<string, unknown>, nextMediaId: () => string): Serialised {
  const objects: ObjectDescriptor[] = [];
  const media: OutgoingMedia[] = [];
  const path: Array<string | number> = [];
  const walk = (value: unknown): unknown => {
    if (value === undefined || value === null) return null;
    switch (typeof value) {
      case 'string':
      case 'boolean':
        return value;
      case 'number':
        if (Number.isFinite(value)) return value;
        objects.push({ path: [...path], type: ['Float'], value: floatName(value) });
        return null;
      case 'bigint':
        if (value >= -MAX_PLAIN_INT && value <= MAX_PLAIN_INT) return Number(value);
        objects.push({ path: [...path], type: ['Long'], value: value.toString() });
        return null;
      case 'object':
        break;
      default:
        return null; // functions and symbols have no wire form anywhere
    }
    if (value instanceof Media || value instanceof Uint8Array) {
      const id = nextMediaId();
      const isMedia = value instanceof Media;
      objects.push({
        path: [...path],
        type: ['DataMedia'],
        id,
        'mime-type': isMedia ? value.contentType : 'application/octet-stream',
        name: isMedia ? (value.name ?? null) : null,
      });
      media.push({ id, bytes: isMedia ? value.bytes : value });
      return null;
    }
    if (value instanceof Date) {
      objects.push({ path: [...path], type: ['DateTime'], value: anvilDateTime(value) });
      return null;
    }
    if (value instanceof AnvilLiveObject) {
      // The client copies id, backend, mac and permissions into each method call: all present.
      const { backend, id, methods } = value;
      const spec = { backend, id, mac: '', permissions: [], methods: [...methods], itemCache: {} };
      objects.push({ path: [...path], type: ['LiveObject'], ...spec });
      return null;
    }
    if (Array.isArray(value)) {
      const out: unknown[] = new Array(value.length);
      for (let i = 0; i < value.length; i++) {
        path.push(i);
        out[i] = walk(value[i]);
        path.pop();
      }
      return out;
    }
    const out: Record<string, unknown> = {};
    for (const key of Object.keys(value)) {
      path.push(key);
      define(out, key, walk((value as Record<string, unknown>)[key]));
      path.pop();
    }
    return out;
  };
  const json: Record<string, unknown> = {};
  for (const key of Object.keys(message)) {
    path.push(key);
    define(json, key, walk(message[key]));
    path.pop();
  }
  return { json, objects, media };
}

/**
 * Puts the described values into `message` in place. `media(id)` gives a DataMedia's bytes (all
 * its chunks arrived). Throws SB_ERR_PROTO_BAD_FRAME for a path that does not lead to a
 * placeholder, and for a type Switchboard cannot represent (live objects, capabilities,
 * portable classes, lazy media).
 */
export function deserialise(
  message: Record<string, unknown>,
  objects: readonly ObjectDescriptor[],
  media: (id: string) => Uint8Array | undefined,
): void {
  for (const descriptor of objects) {
    const value = describedValue(descriptor, media);
    let container: unknown = message;
    const { path } = descriptor;
    for (let i = 0; i < path.length - 1; i++) container = step(container, path[i]!);
    const last = path[path.length - 1]!;
    if (!holds(container, last)) throw bad(`no value at objects path ${JSON.stringify(path)}`);
    define(container as Record<string, unknown>, String(last), value);
  }
}

function describedValue(
  descriptor: ObjectDescriptor,
  media: (id: string) => Uint8Array | undefined,
): unknown {
  const type = descriptor.type[0];
  switch (type) {
    case 'DataMedia': {
      const id = descriptor.id;
      const bytes = typeof id === 'string' ? media(id) : undefined;
      if (bytes === undefined) throw bad(`media ${String(id)} did not arrive`);
      const mime = descriptor['mime-type'];
      const name = descriptor.name;
      return new Media(
        typeof mime === 'string' && mime !== '' ? mime : 'application/octet-stream',
        bytes,
        typeof name === 'string' ? name : undefined,
      );
    }
    case 'DateTime':
      return parseDateTime(descriptor.value);
    case 'Date':
      return parseDate(descriptor.value);
    case 'Long': {
      const text = descriptor.value;
      if (typeof text !== 'string' || !/^-?\d{1,4000}$/.test(text)) throw bad('malformed Long');
      const big = BigInt(text);
      return big >= BigInt(Number.MIN_SAFE_INTEGER) && big <= BigInt(Number.MAX_SAFE_INTEGER)
        ? Number(big)
        : big;
    }
    case 'Float':
      switch (descriptor.value) {
        case 'Infinity':
          return Infinity;
        case '-Infinity':
          return -Infinity;
        case 'NaN':
          return NaN;
        default:
          throw bad('malformed Float');
      }
    default:
      throw new SwitchboardError(
        'SB_ERR_PROTO_BAD_FRAME',
        `Anvil values of type ${JSON.stringify(type)} are not supported by Switchboard (see docs/anvil.md)`,
      );
  }
}

/** Anvil's form: `YYYY-MM-DD HH:MM:SS.ffffff+0000` (always UTC here, six digits). */
export function anvilDateTime(date: Date): string {
  if (Number.isNaN(date.getTime())) return '';
  const iso = date.toISOString(); // 2024-01-02T03:04:05.678Z
  return `${iso.slice(0, 10)} ${iso.slice(11, 23)}000+0000`;
}

function parseDateTime(value: unknown): Date | null {
  if (value === null || value === '') return null;
  const match =
    typeof value === 'string'
      ? /^(\d{4}-\d{2}-\d{2}) (\d{2}:\d{2}:\d{2})(?:\.(\d{1,6}))?([+-]\d{2}):?(\d{2})?$/.exec(value)
      : null;
  if (match === null) throw bad(`malformed DateTime ${JSON.stringify(value)}`);
  const [, day, time, fraction = '0', offsetHours, offsetMinutes = '00'] = match;
  const millis = fraction.padEnd(6, '0').slice(0, 3);
  const date = new Date(`${day}T${time}.${millis}${offsetHours}:${offsetMinutes}`);
  if (Number.isNaN(date.getTime())) throw bad(`malformed DateTime ${JSON.stringify(value)}`);
  return date;
}

/** A calendar date becomes midnight UTC of that day. */
function parseDate(value: unknown): Date | null {
  if (value === null || value === '') return null;
  const date =
    typeof value === 'string' && /^\d{4}-\d{2}-\d{2}$/.test(value)
      ? new Date(`${value}T00:00:00Z`)
      : undefined;
  if (date === undefined || Number.isNaN(date.getTime()))
    throw bad(`malformed Date ${JSON.stringify(value)}`);
  return date;
}

function floatName(value: number): string {
  if (Number.isNaN(value)) return 'NaN';
  return value > 0 ? 'Infinity' : '-Infinity';
}

function step(container: unknown, key: string | number): unknown {
  if (!holds(container, key)) throw bad('an objects path leads nowhere');
  return (container as Record<string, unknown>)[key];
}

function holds(container: unknown, key: string | number): boolean {
  if (typeof container !== 'object' || container === null) return false;
  if (Array.isArray(container))
    return typeof key === 'number' && key >= 0 && key < container.length;
  return Object.hasOwn(container, String(key));
}

/** Sets an own property, also for a key named `__proto__` (never the prototype). */
function define(target: Record<string, unknown>, key: string, value: unknown): void {
  if (key === '__proto__')
    Object.defineProperty(target, key, { value, enumerable: true, writable: true });
  else target[key] = value;
}

function bad(message: string): SwitchboardError {
  return new SwitchboardError('SB_ERR_PROTO_BAD_FRAME', message);
}

/** Anvil's error types for Switchboard's codes, where the client library has a class for one. */
const ANVIL_TYPES: Partial<Record<string, string>> = {
  SB_ERR_NO_SUCH_FUNCTION: 'anvil.server.NoServerFunctionError',
  SB_ERR_CALL_TIMEOUT: 'anvil.server.TimeoutError',
  SB_ERR_UPLINK_DISCONNECTED: 'anvil.server.UplinkDisconnectedError',
  SB_ERR_UPLINK_UNRESPONSIVE: 'anvil.server.UplinkDisconnectedError',
  SB_ERR_PERMISSION_DENIED: 'anvil.server.PermissionDenied',
  SB_ERR_AUTH_REQUIRED: 'anvil.server.PermissionDenied',
  SB_ERR_AUTH_FAILED: 'anvil.users.AuthenticationFailed',
  SB_ERR_USER_DISABLED: 'anvil.users.AccountIsNotEnabled',
  SB_ERR_LOGIN_THROTTLED: 'anvil.users.TooManyPasswordFailures',
  SB_ERR_COOKIE_TOO_LARGE: 'anvil.server.CookieError',
  SB_ERR_NO_HTTP_REQUEST: 'anvil.server.CookieError',
  SB_ERR_ANVIL_UNSUPPORTED: 'anvil.server.ServiceNotAdded',
  SB_ERR_RATE_LIMITED: 'anvil.server.QuotaExceededError',
  SB_ERR_SERVER_CLOSING: 'anvil.server.RuntimeUnavailableError',
  SB_ERR_NO_SUCH_TASK: 'anvil.server.BackgroundTaskNotFound',
  SB_ERR_TASK_KILLED: 'anvil.server.BackgroundTaskKilled',
  SB_ERR_TASK_ONLY: 'anvil.server.BackgroundTaskError',
};

/**
 * A Switchboard error as an Anvil error object: the thrower's own type when it came from a
 * function (so a script can catch what another uplink raised), else the Anvil class for the code
 * (`anvil.server.NoServerFunctionError`, …) or `SwitchboardError`. The code rides along in `code`.
 */
export function anvilError(
  error: SwitchboardError,
  includeTrace: boolean,
): Record<string, unknown> {
  const wire: WireError = error.toWire(includeTrace);
  const type =
    error.code === 'SB_ERR_REMOTE_ERROR' && error.remoteType !== undefined
      ? error.remoteType
      : (ANVIL_TYPES[error.code] ?? 'SwitchboardError');
  const out: Record<string, unknown> = { type, message: wire.message, trace: [], code: wire.code };
  if (wire.stack !== undefined && includeTrace)
    out.trace = wire.stack
      .split('\n')
      .slice(1, 30)
      .map((line) => [line.trim(), 0]);
  if (wire.data !== undefined) out.data = wire.data;
  return out;
}

/**
 * An error an Anvil uplink answered with (`{type, message, trace}`): SB_ERR_REMOTE_ERROR with its
 * type and trace, or the Switchboard code it carries when it relays one of ours.
 */
export function fromAnvilError(raw: unknown): SwitchboardError {
  const error = (typeof raw === 'object' && raw !== null ? raw : {}) as Record<string, unknown>;
  const message = typeof error.message === 'string' ? error.message : 'The uplink raised an error';
  const type = typeof error.type === 'string' ? error.type : 'Exception';
  const trace = Array.isArray(error.trace)
    ? error.trace
        .filter((frame): frame is [string, number] => Array.isArray(frame) && frame.length >= 2)
        .map(([file, line]) => `    at ${String(file)}:${String(line)}`)
        .join('\n')
    : '';
  const stack = `${type}: ${message}${trace === '' ? '' : `\n${trace}`}`;
  return SwitchboardError.fromWire({
    code: typeof error.code === 'string' ? error.code : 'SB_ERR_REMOTE_ERROR',
    type,
    message,
    stack,
  });
}
