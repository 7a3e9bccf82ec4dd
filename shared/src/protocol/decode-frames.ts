import type { DecodeLimits } from '../codec/decode-limits.ts';
import { decodeValues } from '../codec/msgpack-codec.ts';
import type { SwitchboardError, WireError } from '../errors/switchboard-error.ts';
import { DEFAULT_STREAM_WINDOW_BYTES } from '../streams/stream-sender.ts';
import { KEY_KINDS, type CallerInfo, type KeyKind } from './caller.ts';
import type { Limits } from './connection-limits.ts';
import { endpointRegistrations, registrations, unregisterRefusal } from './decode-registrations.ts';
import { httpRequest, user } from './decode-wire-http.ts';
import {
  bad,
  callId,
  describe,
  isPlainObject,
  list,
  optional,
  positiveInt,
  str,
  streamIdOf,
  uint,
  type Obj,
} from './field-readers.ts';
import type {
  CallFrame,
  CancelFrame,
  ErrorFrame,
  RequestFrame,
  ResultFrame,
  ServerToUplinkFrame,
  StreamFrame,
  StreamedPayload,
  UplinkToServerFrame,
} from './frames.ts';
import { functionName, invalidName, isFunctionName, uplinkName } from './names.ts';
import { isRequestId } from './request-id.ts';
import { isTaskId } from '../tasks/task.ts';

// The one validating gate, one entry per direction: every decoded message becomes typed frames
// here or fails with SB_ERR_PROTO_BAD_FRAME. The rules it applies live beside it: names
// (`names.ts`), registrations (`decode-registrations.ts`), HTTP requests with their cookie jars
// (`decode-wire-http.ts`), and the field readers all of them share (`field-readers.ts`).

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
      if (raw.task !== undefined) {
        if (!isTaskId(raw.task)) throw bad('call.task must be a task id');
        frame.task = raw.task;
      }
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

function keyKind(raw: Obj, key: string): KeyKind {
  const value = raw[key];
  if (!(KEY_KINDS as readonly unknown[]).includes(value))
    throw bad(`${key} must be server or client`);
  return value as KeyKind;
}
