import type { DecodeLimits } from '../codec/decode-limits.ts';
import { decodeValues } from '../codec/msgpack-codec.ts';
import { SwitchboardError, type WireError } from '../errors/switchboard-error.ts';
import type { User } from '../users/user.ts';
import { DEFAULT_STREAM_WINDOW_BYTES } from '../streams/stream-sender.ts';
import { normalizePolicy } from './access-policy.ts';
import { endpointDoc } from './endpoint-doc.ts';
import { endpointMethods, endpointShape } from './endpoint-path.ts';
import { isRequestId } from './request-id.ts';
import {
  KEY_KINDS,
  type CallFrame,
  type CallerInfo,
  type CancelFrame,
  type CookieJarContent,
  type WireRequestState,
  type EndpointDoc,
  type EndpointRegistration,
  type WireHttpRequest,
  type ErrorFrame,
  type ResultFrame,
  type RequestFrame,
  type FunctionRegistration,
  type KeyKind,
  type Limits,
  type ServerToUplinkFrame,
  type StreamFrame,
  type StreamedPayload,
  type UplinkToServerFrame,
} from './frames.ts';

/** Largest call id: ids are unsigned 32-bit so every MessagePack library handles them natively. */
export const MAX_CALL_ID = 0xffff_ffff;
const MAX_NAME_LENGTH = 200;
const NAME_PATTERN = /^[A-Za-z0-9_][A-Za-z0-9_.:-]*$/;
/** Longest `hello.name`, in characters (code points). */
export const MAX_UPLINK_NAME_LENGTH = 128;
/**
 * An uplink's name goes into logs, the admin API and callees' `caller.uplinkName`: printable
 * only (no control, format, surrogate or line/paragraph separator characters).
 */
const UPLINK_NAME_PATTERN = /^[^\p{Cc}\p{Cf}\p{Cs}\p{Zl}\p{Zp}]+$/u;
/** Function names starting with this are the server's own built-ins; nobody else registers them. */
export const RESERVED_NAME_PREFIX = 'sb.';

type Obj = Record<string, unknown>;

/**
 * The one validating gate for messages an uplink sends to the server. Returns typed frames or
 * throws SwitchboardError SB_ERR_PROTO_BAD_FRAME; never anything else. `limits` bound the
 * message's structure (default DEFAULT_DECODE_LIMITS).
 */
export function decodeUplinkMessage(
  bytes: Uint8Array,
  limits?: DecodeLimits,
): UplinkToServerFrame[] {
  return decodeMessage(bytes, toUplinkFrame, limits);
}

/** The one validating gate for messages the server sends to an uplink. */
export function decodeServerMessage(
  bytes: Uint8Array,
  limits?: DecodeLimits,
): ServerToUplinkFrame[] {
  return decodeMessage(bytes, toServerFrame, limits);
}

function decodeMessage<F>(bytes: Uint8Array, check: (raw: Obj) => F, limits?: DecodeLimits): F[] {
  if (bytes.byteLength === 0) throw bad('empty message');
  const values = decodeValues(bytes, limits);
  const frames: F[] = [];
  for (const value of values) {
    if (!isPlainObject(value)) throw bad('a frame must be a map');
    frames.push(check(value));
  }
  return frames;
}

function toUplinkFrame(raw: Obj): UplinkToServerFrame {
  const type = raw.type;
  switch (type) {
    case 'hello':
      return {
        type,
        protocol: uint(raw, 'protocol'),
        ...optional(raw, 'key', str),
        ...optional(raw, 'name', uplinkName),
        ...optional(raw, 'maxFrameBytes', uint),
      };
    case 'register': {
      // Shape first (a violation closes the connection); then names, paths and methods, whose
      // refusal is answered for this id (`refusal`) with the connection kept.
      const id = callId(raw);
      const refusals: SwitchboardError[] = [];
      const functions = registrations(raw, refusals);
      const endpoints = endpointRegistrations(raw, refusals);
      if (functions.length + endpoints.length === 0)
        throw bad('register names no function or endpoint');
      const refusal = refusals[0];
      if (refusal !== undefined)
        return { type, id, functions: [], endpoints: [], refusal: refusal.toWire(false) };
      return { type, id, functions, endpoints };
    }
    case 'unregister': {
      const id = callId(raw);
      const names = list(raw, 'names', (name) => {
        if (typeof name !== 'string') throw bad('names must be strings');
        return name;
      });
      const paths = list(raw, 'paths', (path) => {
        if (typeof path !== 'string') throw bad('paths must be strings');
        return path;
      });
      if (names.length + paths.length === 0) throw bad('unregister names nothing');
      const refusal = unregisterRefusal(names, paths);
      if (refusal !== undefined)
        return { type, id, names: [], paths: [], refusal: refusal.toWire(false) };
      return { type, id, names, paths };
    }
    case 'call':
      return callFrame(raw, type, true);
    case 'drain':
      return raw.timeoutMs === undefined
        ? { type }
        : { type, timeoutMs: positiveInt(raw, 'timeoutMs') };
    default:
      return answerFrame(raw);
  }
}

function toServerFrame(raw: Obj): ServerToUplinkFrame {
  const type = raw.type;
  switch (type) {
    case 'welcome':
      return {
        type,
        protocol: uint(raw, 'protocol'),
        connectionId: str(raw, 'connectionId'),
        keyKind: keyKind(raw, 'keyKind'),
        keyName: str(raw, 'keyName'),
        limits: limits(raw),
      };
    case 'draining': {
      const reason = raw.reason;
      if (reason !== 'requested' && reason !== 'admin')
        throw bad('draining.reason must be requested or admin');
      return { type, reason, timeoutMs: positiveInt(raw, 'timeoutMs') };
    }
    case 'goaway':
      return { type, graceMs: uint(raw, 'graceMs') };
    case 'call': {
      const frame = callFrame(raw, type, false);
      if (raw.caller !== undefined) frame.caller = caller(raw.caller);
      return frame;
    }
    case 'request': {
      // Hot path: optional fields assigned, not spread (spreads of computed-key objects cost).
      const frame: RequestFrame = {
        type,
        id: callId(raw),
        endpoint: str(raw, 'endpoint'),
        request: httpRequest(raw.request),
      };
      if (raw.timeoutMs !== undefined) frame.timeoutMs = positiveInt(raw, 'timeoutMs');
      if (raw.caller !== undefined) frame.caller = caller(raw.caller);
      if (raw.requestId !== undefined) frame.requestId = requestId(raw);
      return frame;
    }
    default:
      return answerFrame(raw);
  }
}

/** Frames both directions share: cancel, result, error and the stream frames. */
function answerFrame(raw: Obj): CancelFrame | ResultFrame | ErrorFrame | StreamFrame {
  const type = raw.type;
  switch (type) {
    case 'cancel':
      return { type, id: callId(raw) };
    case 'result':
      if (raw.payload !== undefined) {
        if (raw.stream !== undefined || raw.value !== undefined)
          throw bad('result.payload excludes value and stream');
        return { type, id: callId(raw), payload: payload(raw.payload) };
      }
      return raw.stream === undefined
        ? { type, id: callId(raw), value: raw.value }
        : { type, id: callId(raw), stream: streamId(raw) };
    case 'error':
      return errorFrame(raw, type);
    case 'chunk': {
      const data = raw.data;
      if (!(data instanceof Uint8Array)) throw bad('chunk.data must be bytes');
      return { type, stream: streamId(raw), data };
    }
    case 'end': {
      const stream = streamId(raw);
      if (raw.error === undefined) return { type, stream };
      return { type, stream, error: errorFrame({ error: raw.error }, 'error').error };
    }
    case 'credit':
      return { type, stream: streamId(raw), bytes: positiveInt(raw, 'bytes') };
    case 'abort': {
      const stream = streamId(raw);
      if (raw.error === undefined) return { type, stream };
      return { type, stream, error: errorFrame({ error: raw.error }, 'error').error };
    }
    case 'large':
      return { type, stream: streamId(raw), bytes: positiveInt(raw, 'bytes') };
    default:
      throw bad(`unknown frame type ${describe(type)}`);
  }
}

function streamId(raw: Obj): number {
  return streamIdOf(raw, 'stream');
}

function streamIdOf(raw: Obj, key: string): number {
  const id = uint(raw, key);
  if (id > MAX_CALL_ID) throw bad(`${key} must fit in 32 bits`);
  return id;
}

/**
 * With `answerable`, a `name` that is a string but not a valid function name does not fail the
 * frame: it comes back with `refusal` (SB_ERR_NAME_INVALID), for the receiver to answer.
 */
function callFrame(raw: Obj, type: 'call', answerable: boolean): CallFrame {
  const args = raw.args;
  if (!Array.isArray(args)) throw bad('call.args must be an array');
  const name = answerable ? str(raw, 'name') : functionName(raw, 'name');
  const frame: CallFrame = { type, id: callId(raw), name, args: args as unknown[] };
  if (!isFunctionName(name)) frame.refusal = invalidName(name).toWire(false);
  if (raw.timeoutMs !== undefined) frame.timeoutMs = positiveInt(raw, 'timeoutMs');
  if (raw.payload !== undefined) {
    if (args.length > 0) throw bad('call.payload requires empty args');
    frame.payload = payload(raw.payload);
  }
  if (raw.requestId !== undefined) frame.requestId = requestId(raw);
  return frame;
}

function payload(value: unknown): StreamedPayload {
  if (!isPlainObject(value)) throw bad('payload must be a map');
  return { stream: streamId(value), bytes: positiveInt(value, 'bytes') };
}

function requestId(raw: Obj): string {
  const value = raw.requestId;
  if (!isRequestId(value)) throw bad(`invalid requestId ${describe(value)}`);
  return value;
}

function errorFrame(raw: Obj, type: 'error') {
  const error = raw.error;
  if (!isPlainObject(error)) throw bad('error.error must be a map');
  const wire: WireError = {
    code: str(error, 'code'),
    type: str(error, 'type'),
    message: str(error, 'message'),
    ...optional(error, 'stack', str),
  };
  if (error.data !== undefined) wire.data = error.data;
  return raw.id === undefined ? { type, error: wire } : { type, id: callId(raw), error: wire };
}

/** Function registrations; a name that is a string but invalid is noted in `refusals`. */
function registrations(raw: Obj, refusals: SwitchboardError[]): FunctionRegistration[] {
  return list(raw, 'functions', (item) => {
    if (!isPlainObject(item)) throw bad('each function registration must be a map');
    const name = str(item, 'name');
    if (!isFunctionName(name)) refusals.push(invalidName(name));
    const registration: FunctionRegistration = { name };
    if (item.allowClients !== undefined) {
      if (typeof item.allowClients !== 'boolean') throw bad('allowClients must be a boolean');
      if (item.allowClients) registration.allowClients = true;
    }
    if (item.requireUser !== undefined) {
      if (item.requireUser !== 'yes' && item.requireUser !== 'check')
        throw bad('requireUser must be yes or check');
      registration.requireUser = item.requireUser;
    }
    return registration;
  });
}

/**
 * Endpoint registrations. `path` must be a string and `methods` (when present) an array of
 * strings; a path or method that is not acceptable is noted in `refusals`
 * (SB_ERR_ENDPOINT_PATH_INVALID). Policy, documentation and schemas are shape: a violation
 * fails the frame.
 */
function endpointRegistrations(raw: Obj, refusals: SwitchboardError[]): EndpointRegistration[] {
  return list(raw, 'endpoints', (item) => {
    if (!isPlainObject(item)) throw bad('each endpoint registration must be a map');
    const path = str(item, 'path');
    const methods = item.methods;
    if (
      methods !== undefined &&
      (!Array.isArray(methods) || !methods.every((method) => typeof method === 'string'))
    )
      throw bad('methods must be an array of strings');
    const registration: EndpointRegistration = { path, methods: [] };
    try {
      endpointShape(path);
      registration.methods = endpointMethods(methods);
    } catch (error) {
      refusals.push(
        error instanceof SwitchboardError
          ? error
          : new SwitchboardError('SB_ERR_ENDPOINT_PATH_INVALID', String(error)),
      );
    }
    try {
      const policy = normalizePolicy(item.policy);
      if (policy !== undefined) registration.policy = policy;
      // Summary, description, tags and schemas: shape and size only (plain JSON, capped).
      return Object.assign(registration, endpointDoc(item as EndpointDoc, policy));
    } catch (error) {
      throw bad(error instanceof Error ? error.message : String(error));
    }
  });
}

/** Why an `unregister` cannot be done: a name or path no registration could have. */
function unregisterRefusal(names: string[], paths: string[]): SwitchboardError | undefined {
  for (const name of names) if (!isFunctionName(name)) return invalidName(name);
  for (const path of paths) {
    try {
      endpointShape(path);
    } catch (error) {
      return error instanceof SwitchboardError
        ? error
        : new SwitchboardError('SB_ERR_ENDPOINT_PATH_INVALID', String(error));
    }
  }
  return undefined;
}

function invalidName(name: string): SwitchboardError {
  return new SwitchboardError(
    'SB_ERR_NAME_INVALID',
    `Invalid function name ${describe(name)}: 1-${MAX_NAME_LENGTH} characters of A-Z a-z 0-9 _ . : - (not starting with . : -)`,
  );
}

/** An optional array field (absent → empty), each item checked by `read`. */
function list<T>(raw: Obj, key: string, read: (item: unknown) => T): T[] {
  const value = raw[key];
  if (value === undefined) return [];
  if (!Array.isArray(value)) throw bad(`${key} must be an array`);
  return value.map(read);
}

function httpRequest(value: unknown): WireHttpRequest {
  if (!isPlainObject(value)) throw bad('request must be a map');
  const params = stringMap(value.params, 'request.params');
  const headers = value.headers;
  if (!isPlainObject(headers)) throw bad('request.headers must be a map');
  for (const header of Object.values(headers)) {
    if (
      typeof header !== 'string' &&
      !(Array.isArray(header) && header.every((h) => typeof h === 'string'))
    ) {
      throw bad('request.headers values must be strings or string arrays');
    }
  }
  const body = value.body;
  if (body !== undefined && body !== null && !(body instanceof Uint8Array))
    throw bad('request.body must be bytes');
  const request: WireHttpRequest = {
    method: str(value, 'method'),
    path: str(value, 'path'),
    params,
    query: str(value, 'query'),
    headers: headers as Record<string, string | string[]>,
    remoteAddress: str(value, 'remoteAddress'),
    appOrigin: str(value, 'appOrigin'),
    apiOrigin: str(value, 'apiOrigin'),
  };
  if (body instanceof Uint8Array) request.body = body;
  if (value.bodyStream !== undefined) request.bodyStream = streamIdOf(value, 'bodyStream');
  if (value.user !== undefined) request.user = user(value.user);
  if (value.state !== undefined) request.state = requestState(value.state);
  return request;
}

function requestState(value: unknown): WireRequestState {
  if (!isPlainObject(value)) throw bad('request.state must be a map');
  const session = value.session;
  const cookies = value.cookies;
  if (!isPlainObject(session)) throw bad('request.state.session must be a map');
  if (!isPlainObject(cookies)) throw bad('request.state.cookies must be a map');
  return {
    session,
    cookies: { local: cookieJar(cookies.local), shared: cookieJar(cookies.shared) },
  };
}

/** Checks a cookie jar's content (also used by the door on a handler's effects). */
export function cookieJar(value: unknown): CookieJarContent {
  if (!isPlainObject(value)) throw bad('a cookie jar must be a map');
  for (const entry of Object.values(value)) {
    if (!isPlainObject(entry) || typeof entry.expiresAt !== 'number' || !('value' in entry))
      throw bad('a cookie jar entry must be { value, expiresAt }');
  }
  return value as CookieJarContent;
}

/** A user as the server sends it (its own record, so only its shape is checked). */
function user(value: unknown): User {
  if (!isPlainObject(value) || typeof value.id !== 'number' || typeof value.email !== 'string')
    throw bad('a user must be a map with id and email');
  return value as unknown as User;
}

function stringMap(value: unknown, what: string): Record<string, string> {
  if (!isPlainObject(value)) throw bad(`${what} must be a map`);
  for (const item of Object.values(value))
    if (typeof item !== 'string') throw bad(`${what} values must be strings`);
  return value as Record<string, string>;
}

function limits(raw: Obj): Limits {
  const value = raw.limits;
  if (!isPlainObject(value)) throw bad('welcome.limits must be a map');
  const checked: Limits = {
    maxFrameBytes: uint(value, 'maxFrameBytes'),
    pingIntervalMs: positiveInt(value, 'pingIntervalMs'),
    defaultCallTimeoutMs: positiveInt(value, 'defaultCallTimeoutMs'),
    // Absent from a server that streams nothing to uplinks: the default window.
    streamWindowBytes:
      value.streamWindowBytes === undefined
        ? DEFAULT_STREAM_WINDOW_BYTES
        : positiveInt(value, 'streamWindowBytes'),
  };
  if (value.maxMessageBytes !== undefined)
    checked.maxMessageBytes = positiveInt(value, 'maxMessageBytes');
  return checked;
}

function caller(value: unknown): CallerInfo {
  if (!isPlainObject(value)) throw bad('call.caller must be a map');
  const kind = value.kind;
  if (kind !== 'uplink' && kind !== 'app' && kind !== 'http') throw bad('bad caller.kind');
  const info: CallerInfo = { kind };
  if (value.keyName !== undefined) info.keyName = str(value, 'keyName');
  if (value.keyKind !== undefined) info.keyKind = keyKind(value, 'keyKind');
  if (value.uplinkName !== undefined) info.uplinkName = str(value, 'uplinkName');
  if (value.connectionId !== undefined) info.connectionId = str(value, 'connectionId');
  if (value.user !== undefined) info.user = user(value.user);
  return info;
}

/** Whether `value` is acceptable as a function name (also used by the registries). */
export function isFunctionName(value: unknown): value is string {
  return typeof value === 'string' && value.length <= MAX_NAME_LENGTH && NAME_PATTERN.test(value);
}

/** Whether `value` is acceptable as `hello.name`: 1–128 printable characters. */
export function isUplinkName(value: unknown): value is string {
  if (typeof value !== 'string' || value.length === 0) return false;
  // Cheap bound first: 128 code points are at most 256 UTF-16 units.
  if (value.length > 2 * MAX_UPLINK_NAME_LENGTH) return false;
  return [...value].length <= MAX_UPLINK_NAME_LENGTH && UPLINK_NAME_PATTERN.test(value);
}

/** Whether `name` is under the reserved `sb.` prefix (the server's built-in functions). */
export function isReservedName(name: string): boolean {
  return name.startsWith(RESERVED_NAME_PREFIX);
}

/** Checks the arguments of a `callable(name, fn)`, on the server and in uplinks alike. */
export function assertCallable(name: unknown, fn: unknown): asserts name is string {
  if (!isFunctionName(name)) {
    throw new SwitchboardError(
      'SB_ERR_NAME_INVALID',
      `Invalid function name ${JSON.stringify(name)}`,
    );
  }
  if (isReservedName(name)) {
    throw reservedNameError(name);
  }
  if (typeof fn !== 'function') {
    throw new SwitchboardError('SB_ERR_OPTIONS_INVALID', 'callable needs a function');
  }
}

/** The error for registering a reserved name, the same from `callable` and from the server. */
export function reservedNameError(name: string): SwitchboardError {
  return new SwitchboardError(
    'SB_ERR_NAME_INVALID',
    `Cannot register ${JSON.stringify(name)}: names starting with ${RESERVED_NAME_PREFIX} are reserved`,
  );
}

// ---------------------------------------------------------------------------------------------
// Field readers: each returns the typed value or throws SB_ERR_PROTO_BAD_FRAME.

function optional<K extends string, T>(raw: Obj, key: K, read: (raw: Obj, key: string) => T) {
  return (raw[key] === undefined ? {} : { [key]: read(raw, key) }) as { [P in K]?: T };
}

function str(raw: Obj, key: string): string {
  const value = raw[key];
  if (typeof value !== 'string') throw bad(`${key} must be a string`);
  return value;
}

function uint(raw: Obj, key: string): number {
  const value = raw[key];
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 0) {
    throw bad(`${key} must be a non-negative integer`);
  }
  return value;
}

function positiveInt(raw: Obj, key: string): number {
  const value = uint(raw, key);
  if (value === 0) throw bad(`${key} must be positive`);
  return value;
}

function callId(raw: Obj): number {
  const id = uint(raw, 'id');
  if (id > MAX_CALL_ID) throw bad('id must fit in 32 bits');
  return id;
}

function functionName(raw: Obj, key: string): string {
  const value = raw[key];
  if (!isFunctionName(value)) throw bad(`invalid function name ${describe(value)}`);
  return value;
}

function uplinkName(raw: Obj, key: string): string {
  const value = raw[key];
  if (!isUplinkName(value))
    throw bad(
      `${key} must be 1-${MAX_UPLINK_NAME_LENGTH} printable characters, got ${describe(value)}`,
    );
  return value;
}

function keyKind(raw: Obj, key: string): KeyKind {
  const value = raw[key];
  if (!(KEY_KINDS as readonly unknown[]).includes(value))
    throw bad(`${key} must be server or client`);
  return value as KeyKind;
}

function isPlainObject(value: unknown): value is Obj {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return false;
  const proto: unknown = Object.getPrototypeOf(value);
  return proto === Object.prototype || proto === null;
}

function describe(value: unknown): string {
  if (typeof value === 'string') return JSON.stringify(value.slice(0, 60));
  return typeof value;
}

function bad(message: string): SwitchboardError {
  return new SwitchboardError('SB_ERR_PROTO_BAD_FRAME', message);
}
