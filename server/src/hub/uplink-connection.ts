import { nanoid } from 'nanoid';
import { performance } from 'node:perf_hooks';
import type { Duplex } from 'node:stream';
import type { WebSocket, RawData } from 'ws';
import {
  CLOSE_CODES,
  FrameBatcher,
  StreamReceiver,
  LargeMessages,
  StreamSender,
  type StreamedValue,
  ValueStream,
  type LocalHttpRequest,
  type WireHttpRequest,
  PROTOCOL_VERSION,
  PendingCalls,
  SwitchboardError,
  closeReason,
  decodeUplinkMessage,
  DEFAULT_DECODE_LIMITS,
  type DecodeLimits,
  encodeValue,
  encodeFrame,
  joined,
  MessageWriter,
  toSwitchboardError,
  type CallFrame,
  type RequestFrame,
  type StreamedPayload,
  type CallerInfo,
  type ErrorCode,
  type ServerToUplinkFrame,
  type UplinkToServerFrame,
  type WireError,
} from '@switchboard/shared';
import type { FastifyBaseLogger } from 'fastify';
import type { ResolvedOptions } from '../options.ts';
import type { KeyRecord, KeyStore } from '../store/key-store.ts';
import type { KeyThrottle } from '../auth/key-throttle.ts';
import { Liveness } from './liveness.ts';
import type { Dispatcher } from './dispatcher.ts';
import { ProviderRegistrations } from '../catalog/provider-registrations.ts';
import { InboundCall, OutboundCall } from './uplink-calls.ts';
import {
  NOOP_HANDLE,
  type CallHandle,
  type CallRequest,
  type CallSink,
  type Provider,
} from './provider.ts';
import type { EndpointTable } from '../catalog/endpoint-table.ts';
import type { FunctionRegistry } from '../catalog/registry.ts';
import type { UplinkTraffic } from '../observe/uplink-traffic.ts';

/** What a connection needs from the hub that owns it. */
export interface ConnectionDeps {
  readonly options: ResolvedOptions;
  readonly keys: KeyStore;
  readonly keyThrottle: KeyThrottle;
  readonly registry: FunctionRegistry;
  readonly endpoints: EndpointTable;
  readonly dispatcher: Dispatcher;
  readonly log: FastifyBaseLogger;
  /** Where message bytes in and out are counted (metrics). */
  readonly traffic: UplinkTraffic;
  onOpen(connection: UplinkConnection): void;
  onClose(connection: UplinkConnection): void;
}

type State = 'awaiting-hello' | 'open' | 'closed';

/**
 * After a drain's deadline the uplink closes by itself and fails what is left; the server waits
 * this much longer before doing it instead (an uplink that ignores `draining`, or is stuck).
 */
const DRAIN_CLOSE_MARGIN_MS = 1_000;

/**
 * Bytes a connection may send before its `hello` is accepted, WebSocket framing included: the
 * hello and nothing else. Counted on the raw socket, so a larger message is refused while it
 * arrives, before it is buffered or decoded.
 */
export const PRE_AUTH_MAX_BYTES = 8 * 1024;
/** A connection refused before authentication is cut this long after its close frame. */
const PRE_AUTH_LINGER_MS = 1_000;

/**
 * One uplink's WebSocket: authentication, the frame loop, the functions it registered, calls
 * it serves (it is a Provider) and calls it makes. Everything it owns is released in `closed()`.
 */
export class UplinkConnection implements Provider {
  readonly providerId: string;
  readonly relaysPayloads = true;
  key: KeyRecord | undefined;
  /** The name the uplink gave in `hello`, if any. */
  name: string | null = null;
  /** When the WebSocket was accepted. */
  readonly connectedAt = new Date();
  /** When it was last heard from, and whether a ping is unanswered (see the hub's sweep). */
  readonly liveness = new Liveness();

  private state: State = 'awaiting-hello';
  private readonly batcher: FrameBatcher;
  private readonly outbound = new PendingCalls<OutboundCall>((id, call) => this.expired(id, call));
  private readonly inbound = new Map<number, InboundCall>();
  private readonly registrations: ProviderRegistrations;
  /** Response bodies the uplink streams to the door. */
  private readonly streams: StreamReceiver;
  /** Streams to the uplink: request bodies, progressive results of its calls, large messages. */
  private readonly bodies: StreamSender;
  /** Messages above one frame, both ways. */
  private readonly large: LargeMessages;
  private readonly authTimer: NodeJS.Timeout;
  /** The peer's IP address as the server's socket saw it. */
  readonly remoteAddress: string;
  /** The upgraded socket under `ws`. */
  private readonly socket: Duplex;
  /** Bytes received before the hello was accepted. */
  private preAuthBytes = 0;
  /** Largest message accepted from it: the server's, or the client-key budget's. */
  private maxFrameBytes: number;
  /** Budget of one decoded message (server keys: the codec's defaults). */
  private decodeLimits: DecodeLimits = DEFAULT_DECODE_LIMITS;
  private callerInfo: CallerInfo = { kind: 'uplink' };
  /** Set once the uplink is out of rotation; closes the connection if it does not by itself. */
  private drainTimer: NodeJS.Timeout | undefined;
  /** The server is shutting down: calls from an uplink that serves nothing are refused. */
  private goingAway = false;
  /** What calls still in flight fail with when the connection closes. */
  private closeError: SwitchboardError | undefined;

  constructor(
    private readonly ws: WebSocket,
    private readonly deps: ConnectionDeps,
    key: KeyRecord | undefined,
    /** The upgraded socket under `ws`, and the peer's IP address as it saw it. */
    peer: { socket: Duplex; remoteAddress: string },
  ) {
    this.remoteAddress = peer.remoteAddress;
    this.socket = peer.socket;
    this.maxFrameBytes = deps.options.maxFrameBytes;
    // Ahead of ws's own listener: bytes are counted before they are parsed.
    peer.socket.prependListener('data', this.countPreAuth);
    this.providerId = `u_${nanoid(8)}`; // 48 random bits (nanoid: 6 bits a character)
    this.registrations = new ProviderRegistrations(this, deps.registry, deps.endpoints);
    this.key = key;
    const writer = new MessageWriter(ws, peer.socket, false);
    this.batcher = new FrameBatcher(
      {
        send(message) {
          deps.traffic.bytesOut += message.byteLength;
          writer.send(message);
        },
        sendParts(parts, byteLength) {
          deps.traffic.bytesOut += byteLength;
          writer.sendParts(parts, byteLength);
        },
      },
      deps.options.maxFrameBytes,
    );
    this.streams = new StreamReceiver(
      (frame) => {
        if (this.state === 'open') this.send(frame);
      },
      deps.options.streamWindowBytes,
      deps.options.streamStallTimeoutMs,
    );
    this.bodies = new StreamSender((frame) => {
      if (this.state === 'open') this.send(frame);
    }, deps.options.streamWindowBytes);
    this.large = new LargeMessages(
      this.bodies,
      this.streams,
      (message) => {
        if (this.state === 'open') this.message(message);
      },
      deps.options.maxMessageBytes,
    );
    this.authTimer = setTimeout(() => {
      this.refuseUnauthenticated('SB_ERR_AUTH_TIMEOUT', CLOSE_CODES.AUTH_FAILED);
    }, deps.options.authTimeoutMs);
    ws.on('message', (data, isBinary) => this.received(data, isBinary));
    ws.on('pong', () => this.heard());
    ws.on('close', (_code, reason) => {
      // An uplink whose own drain deadline passed says so; what it left unanswered fails alike.
      if (
        this.drainTimer !== undefined &&
        reason.toString('utf8').startsWith('SB_ERR_DRAIN_TIMEOUT')
      )
        this.closeError = drainTimeout(this.label);
      this.closed();
    });
    ws.on('error', (error) => {
      deps.log.debug({ err: error, uplink: this.providerId }, 'uplink socket error');
    });
  }

  /** Calls and HTTP requests sent to this uplink and not yet answered. */
  get inFlight(): number {
    return this.outbound.size;
  }

  /** Name of the key the uplink authenticated with ('' before it has). */
  get keyName(): string {
    return this.key?.name ?? '';
  }

  /** Out of rotation: takes no new calls, finishes those in flight, then disconnects. */
  get draining(): boolean {
    return this.drainTimer !== undefined;
  }

  /** The functions it registered (still listed while draining). */
  functions(): string[] {
    return this.registrations.functionNames();
  }

  /** The endpoints it registered (still listed while draining). */
  endpoints(): Array<{ path: string; methods: string[] }> {
    return this.registrations.endpointList();
  }

  /**
   * Nothing under way in either direction: no call to or from it unanswered, no stream open.
   * Shutdown waits for this.
   */
  get isIdle(): boolean {
    return (
      this.outbound.size === 0 &&
      this.inbound.size === 0 &&
      this.streams.size === 0 &&
      this.bodies.size === 0
    );
  }

  private get label(): string {
    return this.name ?? this.providerId;
  }

  get isOpen(): boolean {
    return this.state === 'open';
  }

  get accepting(): boolean {
    return this.state === 'open' && this.drainTimer === undefined && !this.liveness.unresponsive;
  }

  get isClosed(): boolean {
    return this.state === 'closed';
  }

  // -------------------------------------------------------------------------------------------
  // Provider: calls to functions this uplink registered.

  start(request: CallRequest, sink: CallSink): CallHandle {
    if (this.state !== 'open') {
      sink.reject(new SwitchboardError('SB_ERR_UPLINK_DISCONNECTED'));
      return NOOP_HANDLE;
    }
    const id = this.outbound.allocateId();
    const { name: endpoint, http, timeoutMs, caller, requestId } = request;
    const frame: CallFrame | RequestFrame =
      http === undefined
        ? { type: 'call', id, name: request.name, args: request.args, timeoutMs, caller }
        : { type: 'request', id, endpoint, request: this.wireRequest(http), timeoutMs, caller };
    if (requestId !== undefined) frame.requestId = requestId;
    // Args still arriving from another uplink are forwarded as they come, never held here.
    if (request.payload !== undefined && frame.type === 'call')
      frame.payload = this.large.forward(request.payload);
    let stream = frame.type === 'call' ? frame.payload?.stream : frame.request.bodyStream;
    try {
      const sent = this.push(frame);
      if (sent.type === 'call') stream = sent.payload?.stream; // args above one frame
    } catch (error) {
      if (stream !== undefined) this.bodies.abort(stream);
      sink.reject(toSwitchboardError(error));
      return NOOP_HANDLE;
    }
    const call = new OutboundCall(this, id, sink, performance.now() + request.timeoutMs);
    call.isRequest = http !== undefined;
    call.bodyStream = stream;
    this.outbound.add(id, call);
    return call;
  }

  /**
   * A streamed body goes out as a stream of its own, pulled as the uplink grants credit. Body
   * chunks stay as they are: the frame's encoding splices them in (`encodeFrame`).
   */
  private wireRequest(http: LocalHttpRequest): WireHttpRequest {
    if (http.bodySource === undefined) return http; // no copy on the hot path
    const { bodySource, ...wire } = http;
    return { ...wire, bodyStream: this.bodies.start(bodySource) };
  }

  cancelOutbound(id: number): void {
    const call = this.outbound.take(id);
    if (call === undefined) return;
    this.stopStreams(call);
    this.send({ type: 'cancel', id });
    call.sink.reject(new SwitchboardError('SB_ERR_CALL_CANCELLED'));
  }

  /** A call withdrawn before its answer: what it still sends or receives is not wanted. */
  private stopStreams(call: OutboundCall): void {
    if (call.bodyStream !== undefined) this.bodies.abort(call.bodyStream);
    call.answer?.discard();
  }

  private expired(id: number, call: OutboundCall): void {
    this.stopStreams(call);
    this.send({ type: 'cancel', id });
    call.sink.reject(new SwitchboardError('SB_ERR_CALL_TIMEOUT'));
  }

  /**
   * An HTTP answer announcing a streamed body (`stream: id`) gets the stream itself in its
   * place, for the door to attach to the response.
   */
  private withStream(value: unknown): unknown {
    const answer = value as { stream?: unknown } | null;
    if (typeof answer !== 'object' || answer === null || answer.stream === undefined) return value;
    if (typeof answer.stream !== 'number' || this.streams.has(answer.stream)) return value; // the door refuses it
    return { ...answer, stream: this.streams.open(answer.stream) };
  }

  /**
   * A result too large for one frame, arriving as a stream: handed on as it is (forwarded to a
   * calling uplink, decoded by app code and HTTP callers); an HTTP answer is decoded here first,
   * the call staying pending meanwhile.
   */
  private resultPayload(id: number, payload: StreamedPayload): void {
    const value = this.large.payload(payload);
    const call = this.outbound.get(id);
    if (call === undefined)
      value.discard(); // a late answer: nobody wants it
    else if (!call.isRequest) {
      this.outbound.take(id);
      call.sink.resolve(value);
    } else {
      call.answer = value;
      value.decode().then(
        (answer) => this.outbound.take(id)?.sink.resolve(this.withStream(answer)),
        (error: unknown) => this.outbound.take(id)?.sink.reject(toSwitchboardError(error)),
      );
    }
  }

  /** Progressive results the uplink sends on stream `id`, for whoever called. */
  private valueStream(id: number): ValueStream {
    return ValueStream.fromChunks(this.streams.open(id).readable());
  }

  // -------------------------------------------------------------------------------------------
  // Calls the uplink makes.

  answerInbound(id: number, frame: ServerToUplinkFrame): void {
    if (this.inbound.delete(id) && this.state === 'open') this.send(frame);
  }

  /** Answers the uplink's call `id` with a value still arriving from another uplink, forwarded as it comes. */
  answerInboundPayload(id: number, value: StreamedValue): void {
    if (!this.inbound.delete(id) || this.state !== 'open') {
      value.discard();
      return;
    }
    this.send({ type: 'result', id, payload: this.large.forward(value) });
  }

  /** Answers the uplink's call `id` with progressive results, relayed as a stream of ours. */
  answerInboundStream(id: number, parts: ValueStream): void {
    if (!this.inbound.delete(id) || this.state !== 'open') {
      void parts[Symbol.asyncIterator]().return?.(); // nobody to send to: stop the producer
      return;
    }
    this.send({ type: 'result', id, stream: this.bodies.start(parts.raw(), undefined, true) });
  }

  private call(frame: CallFrame): void {
    if (this.inbound.has(frame.id)) {
      this.fail(
        'SB_ERR_PROTO_BAD_FRAME',
        CLOSE_CODES.PROTOCOL_ERROR,
        `call id ${frame.id} is already in use`,
      );
      return;
    }
    // A name no function can have: answered for this id like any unknown function.
    if (frame.refusal !== undefined) {
      if (frame.payload !== undefined) this.large.payload(frame.payload).discard();
      this.send({ type: 'error', id: frame.id, error: frame.refusal });
      return;
    }
    // While the server shuts down, a call from an uplink that is serving something may be part
    // of that work (a handler calling another function) and goes through; one from an uplink
    // with nothing in hand is new work and is refused, so shutdown is not held up by pollers.
    if (this.goingAway && this.outbound.size === 0 && this.streams.size === 0) {
      if (frame.payload !== undefined) this.large.payload(frame.payload).discard();
      const refusal = new SwitchboardError(
        'SB_ERR_SERVER_CLOSING',
        'The server is shutting down and takes no new calls',
      );
      this.send({ type: 'error', id: frame.id, error: refusal.toWire(false) });
      return;
    }
    const inbound = new InboundCall(this, frame.id);
    this.inbound.set(frame.id, inbound);
    const request: CallRequest = {
      name: frame.name,
      args: frame.args,
      timeoutMs: this.deps.dispatcher.timeoutFor(frame.timeoutMs),
      caller: this.callerInfo,
      requestId: frame.requestId,
      ...(frame.payload === undefined ? {} : { payload: this.large.payload(frame.payload) }),
    };
    const handle = this.deps.dispatcher.dispatch(request, inbound);
    if (this.inbound.has(frame.id)) inbound.handle = handle;
  }

  // -------------------------------------------------------------------------------------------
  // The frame loop.

  private received(data: RawData, isBinary: boolean): void {
    if (this.state === 'closed') return;
    this.heard();
    if (!isBinary || !Buffer.isBuffer(data)) {
      this.fail(
        'SB_ERR_PROTO_BAD_FRAME',
        CLOSE_CODES.PROTOCOL_ERROR,
        'frames must be binary messages',
      );
      return;
    }
    this.deps.traffic.bytesIn += data.byteLength;
    if (data.byteLength > this.maxFrameBytes) {
      this.fail(
        'SB_ERR_PROTO_FRAME_TOO_LARGE',
        CLOSE_CODES.MESSAGE_TOO_BIG,
        `message of ${data.byteLength} bytes exceeds maxFrameBytes ${this.maxFrameBytes}`,
      );
      return;
    }
    this.message(data);
  }

  /** One message: frames arrived whole, or a large message reassembled from its stream. */
  private message(data: Buffer): void {
    let frames: UplinkToServerFrame[];
    try {
      frames = decodeUplinkMessage(data, this.decodeLimits);
    } catch (error) {
      const coded = toSwitchboardError(error, 'SB_ERR_PROTO_BAD_FRAME');
      if (this.state === 'awaiting-hello')
        this.refuseUnauthenticated(coded.code, CLOSE_CODES.PROTOCOL_ERROR, coded.message);
      else this.fail(coded.code, CLOSE_CODES.PROTOCOL_ERROR, coded.message);
      return;
    }
    for (const frame of frames) {
      if (this.isClosed) return;
      this.handle(frame);
    }
  }

  private handle(frame: UplinkToServerFrame): void {
    if (this.state === 'awaiting-hello') {
      if (frame.type === 'hello') this.hello(frame);
      else this.refuseUnauthenticated('SB_ERR_AUTH_NOT_AUTHENTICATED', CLOSE_CODES.AUTH_FAILED);
      return;
    }
    switch (frame.type) {
      case 'hello':
        this.fail(
          'SB_ERR_PROTO_BAD_FRAME',
          CLOSE_CODES.PROTOCOL_ERROR,
          'hello was already received',
        );
        return;
      case 'register':
        // An invalid name, path or method: answered for this id, nothing registered.
        if (frame.refusal !== undefined)
          this.send({ type: 'error', id: frame.id, error: frame.refusal });
        else this.register(frame);
        return;
      case 'unregister':
        if (frame.refusal !== undefined) {
          this.send({ type: 'error', id: frame.id, error: frame.refusal });
          return;
        }
        this.registrations.remove(frame.names, frame.paths);
        this.send({ type: 'result', id: frame.id, value: null });
        return;
      case 'call':
        this.call(frame);
        return;
      case 'drain':
        this.drain(
          'requested',
          Math.min(
            frame.timeoutMs ?? this.deps.options.drainTimeoutMs,
            this.deps.options.maxCallTimeoutMs,
          ),
        );
        return;
      case 'cancel': {
        const inbound = this.inbound.get(frame.id);
        if (inbound === undefined) return;
        this.inbound.delete(frame.id);
        inbound.handle?.cancel();
        return;
      }
      case 'result': {
        if (frame.payload !== undefined) {
          this.resultPayload(frame.id, frame.payload);
          return;
        }
        const call = this.outbound.take(frame.id);
        // undefined: a late answer to a call that timed out or was cancelled; the uplink stops
        // any stream it announced when it gets our cancel.
        if (call === undefined) return;
        if (frame.stream !== undefined) call.sink.resolve(this.valueStream(frame.stream));
        else call.sink.resolve(call.isRequest ? this.withStream(frame.value) : frame.value);
        return;
      }
      case 'chunk':
      case 'end':
        this.streams.received(frame);
        return;
      case 'credit':
        this.bodies.credit(frame.stream, frame.bytes);
        return;
      case 'abort':
        this.bodies.abort(frame.stream);
        return;
      case 'large':
        this.large.received(frame);
        return;
      case 'error': {
        if (frame.id === undefined) {
          this.deps.log.warn(
            { uplink: this.providerId, error: frame.error },
            'uplink reported an error',
          );
          return;
        }
        this.outbound.take(frame.id)?.sink.reject(SwitchboardError.fromWire(frame.error));
        return;
      }
      default: {
        const unreachable: never = frame;
        throw new Error(`unhandled frame ${String(unreachable)}`);
      }
    }
  }

  /** All or nothing: a refused registration changes nothing. */
  private register(frame: Extract<UplinkToServerFrame, { type: 'register' }>): void {
    let registered: number;
    try {
      if (this.key?.kind !== 'server') {
        throw new SwitchboardError(
          'SB_ERR_PERMISSION_DENIED',
          'A client key may call functions but not register them',
        );
      }
      if (this.draining) {
        throw new SwitchboardError(
          'SB_ERR_UPLINK_DRAINED',
          'This uplink is draining and may not register more',
        );
      }
      registered = this.registrations.add(frame.functions, frame.endpoints, this.key);
    } catch (error) {
      this.send({ type: 'error', id: frame.id, error: toSwitchboardError(error).toWire(false) });
      return;
    }
    this.send({ type: 'result', id: frame.id, value: { registered } });
  }

  /** Raw bytes before the hello: more than one small message is refused as it arrives. */
  private readonly countPreAuth = (chunk: Buffer): void => {
    this.preAuthBytes += chunk.byteLength;
    if (this.preAuthBytes <= PRE_AUTH_MAX_BYTES || this.state !== 'awaiting-hello') return;
    this.refuseUnauthenticated(
      'SB_ERR_PROTO_FRAME_TOO_LARGE',
      CLOSE_CODES.MESSAGE_TOO_BIG,
      `before its hello is accepted a connection may send at most ${PRE_AUTH_MAX_BYTES} bytes`,
    );
  };

  /**
   * A connection that is not authenticated broke a rule: coded error and close frame, then no
   * more reading (the sender is held back by TCP, nothing more is buffered), the socket ended
   * once they are written, and destroyed soon whatever the peer does.
   */
  private refuseUnauthenticated(code: ErrorCode, closeCode: number, message?: string): void {
    this.fail(code, closeCode, message);
    this.socket.pause();
    this.socket.end();
    setTimeout(() => this.socket.destroy(), PRE_AUTH_LINGER_MS).unref();
  }

  private heard(): void {
    if (this.liveness.heard() && this.state === 'open')
      this.deps.log.info({ uplink: this.providerId }, 'uplink answers again; back in rotation');
  }

  /** A ping went unanswered for pongTimeoutMs: out of rotation until it answers. */
  suspect(): void {
    this.deps.log.warn(
      { uplink: this.providerId, inFlight: this.outbound.size },
      'uplink is not answering pings; no new calls go to it',
    );
  }

  /** A ping went unanswered for unresponsiveTimeoutMs: closed, its calls fail. */
  dropUnresponsive(): void {
    const error = new SwitchboardError(
      'SB_ERR_UPLINK_UNRESPONSIVE',
      `Uplink ${this.label} stopped answering pings and was closed`,
    );
    this.closeError = error;
    this.fail(error.code, CLOSE_CODES.KICKED, error.message);
    this.ws.terminate(); // a frozen peer would never complete the closing handshake
  }

  private hello(frame: Extract<UplinkToServerFrame, { type: 'hello' }>): void {
    if (frame.protocol !== PROTOCOL_VERSION) {
      this.refuseUnauthenticated(
        'SB_ERR_PROTO_VERSION',
        CLOSE_CODES.PROTOCOL_ERROR,
        `server speaks protocol ${PROTOCOL_VERSION}, uplink asked for ${frame.protocol}`,
      );
      return;
    }
    if (this.key === undefined) {
      if (frame.key === undefined) {
        this.refuseUnauthenticated('SB_ERR_AUTH_MISSING_KEY', CLOSE_CODES.AUTH_FAILED);
        return;
      }
      try {
        this.key = this.deps.keyThrottle.verify(this.deps.keys, frame.key, this.remoteAddress);
      } catch (error) {
        const coded = toSwitchboardError(error);
        this.refuseUnauthenticated(coded.code, CLOSE_CODES.AUTH_FAILED, coded.message);
        return;
      }
    }
    clearTimeout(this.authTimer);
    this.socket.off('data', this.countPreAuth);
    const { options } = this.deps;
    let maxMessageBytes = options.maxMessageBytes;
    if (this.key.kind === 'client') {
      this.bodies.sendStacks = false; // failed streams reach it without the thrower's stack
      // A client key calls; it never needs the server to hold what a provider may.
      const budget = options.clientKeyLimits;
      this.maxFrameBytes = Math.min(budget.maxFrameBytes, options.maxFrameBytes);
      maxMessageBytes = Math.min(budget.maxMessageBytes, options.maxMessageBytes);
      this.decodeLimits = { ...DEFAULT_DECODE_LIMITS, maxValues: budget.maxValues };
      this.large.setLimit(maxMessageBytes, this.decodeLimits);
      limitReceiver(this.ws, this.maxFrameBytes);
    }
    this.state = 'open';
    this.name = frame.name ?? null;
    if (frame.maxFrameBytes !== undefined) {
      this.batcher.setMaxBytes(Math.max(1024, frame.maxFrameBytes));
      this.bodies.setMaxFrameBytes(Math.max(1024, frame.maxFrameBytes));
    }
    this.callerInfo = {
      kind: 'uplink',
      keyName: this.key.name,
      keyKind: this.key.kind,
      connectionId: this.providerId,
      ...(frame.name === undefined ? {} : { uplinkName: frame.name }),
    };
    this.send({
      type: 'welcome',
      protocol: PROTOCOL_VERSION,
      connectionId: this.providerId,
      keyKind: this.key.kind,
      keyName: this.key.name,
      limits: {
        maxFrameBytes: this.maxFrameBytes,
        pingIntervalMs: options.pingIntervalMs,
        defaultCallTimeoutMs: options.callTimeoutMs,
        streamWindowBytes: options.streamWindowBytes,
        maxMessageBytes,
      },
    });
    this.deps.onOpen(this);
  }

  // -------------------------------------------------------------------------------------------
  // Drain and shutdown.

  /**
   * Takes the uplink out of rotation at once (no new call or request picks it) and tells it
   * (`draining`); it finishes what is in flight and closes with 4003. If it has not closed
   * `timeoutMs` (plus a margin) later, the server closes it and what is left fails with
   * SB_ERR_DRAIN_TIMEOUT. Returns false when the connection is not open.
   */
  drain(reason: 'requested' | 'admin', timeoutMs: number): boolean {
    if (this.state !== 'open') return false;
    if (this.drainTimer !== undefined) return true;
    this.registrations.withdraw();
    this.send({ type: 'draining', reason, timeoutMs });
    this.drainTimer = setTimeout(() => {
      const error = drainTimeout(this.label);
      this.closeError = error;
      this.fail(error.code, CLOSE_CODES.DRAINED, error.message);
    }, timeoutMs + DRAIN_CLOSE_MARGIN_MS);
    this.drainTimer.unref();
    this.deps.log.info({ uplink: this.providerId, reason, timeoutMs }, 'draining uplink');
    return true;
  }

  /** The server is shutting down: tell the uplink, and refuse new work from it from now on. */
  goAway(graceMs: number): void {
    if (this.state !== 'open' || this.goingAway) return;
    this.goingAway = true;
    this.send({ type: 'goaway', graceMs });
  }

  // -------------------------------------------------------------------------------------------
  // Sending and closing.

  /** Queues a frame; one above the uplink's frame limit has its payload streamed (see LargeMessages). */
  private push(frame: ServerToUplinkFrame): ServerToUplinkFrame {
    const encoded = encodeFrame(frame);
    if (this.batcher.fits(encoded)) {
      this.batcher.push(encoded);
      return frame;
    }
    const sent = this.large.oversized(frame, joined(encoded));
    this.batcher.push(encodeValue(sent));
    return sent;
  }

  private send(frame: ServerToUplinkFrame): void {
    if (this.state === 'closed') return;
    try {
      this.push(frame);
    } catch (error) {
      // An answer that cannot be encoded or is too large for the uplink becomes a bare coded
      // error (no data, no stack), so the caller is still answered and nothing throws upward.
      if ((frame.type !== 'result' && frame.type !== 'error') || frame.id === undefined)
        throw error;
      const coded = toSwitchboardError(error, 'SB_ERR_VALUE_NOT_SERIALIZABLE');
      this.batcher.push(encodeValue({ type: 'error', id: frame.id, error: coded.toWire(false) }));
    }
  }

  /** Sends a connection-level error frame, then closes with `closeCode`. */
  fail(code: ErrorCode, closeCode: number, message?: string): void {
    if (this.state === 'closed') return;
    const error = new SwitchboardError(code, message);
    const wire: WireError = error.toWire(false);
    this.deps.log.info(
      { uplink: this.providerId, code, reason: error.message },
      'closing uplink connection',
    );
    this.send({ type: 'error', error: wire });
    this.close(closeCode, closeReason(code, error.message));
  }

  /** Closes now; calls in flight fail with `error` (default SB_ERR_UPLINK_DISCONNECTED). */
  close(closeCode: number, reason: string, error?: SwitchboardError): void {
    if (this.state === 'closed') return;
    if (error !== undefined) this.closeError ??= error;
    this.batcher.flush();
    this.ws.close(closeCode, reason);
    this.closed();
  }

  ping(): void {
    if (this.state !== 'closed') this.ws.ping();
  }

  /** Releases everything: registrations, pending calls (failed at once), timers. */
  private closed(): void {
    if (this.state === 'closed') return;
    this.state = 'closed';
    clearTimeout(this.authTimer);
    clearTimeout(this.drainTimer);
    this.socket.off('data', this.countPreAuth);
    this.batcher.clear();
    this.registrations.clear();
    this.bodies.abortAll();
    this.streams.failAll(
      this.closeError ??
        new SwitchboardError(
          'SB_ERR_UPLINK_DISCONNECTED',
          `Uplink ${this.label} disconnected in the middle of a stream`,
        ),
    );
    this.outbound.dispose();
    for (const [, call] of this.outbound.drain()) {
      call.sink.reject(
        this.closeError ??
          new SwitchboardError(
            'SB_ERR_UPLINK_DISCONNECTED',
            `Uplink ${this.label} disconnected before answering`,
          ),
      );
    }
    const inbound = [...this.inbound.values()];
    this.inbound.clear();
    for (const call of inbound) call.handle?.cancel();
    this.deps.onClose(this);
  }
}

function drainTimeout(uplink: string): SwitchboardError {
  return new SwitchboardError(
    'SB_ERR_DRAIN_TIMEOUT',
    `Uplink ${uplink} was drained and closed before this call finished`,
  );
}

/**
 * Lowers what `ws` buffers of one message from this peer to twice `maxFrameBytes`, like the
 * server-wide setting: messages up to that are read and refused with a coded error frame, larger
 * ones are cut by `ws` itself (1009) while they arrive. `ws` sets its limit per server; its
 * receiver's field is the only per-connection handle (checked, so a `ws` without it keeps the
 * server-wide limit).
 */
function limitReceiver(ws: WebSocket, maxFrameBytes: number): void {
  const receiver = (ws as unknown as { _receiver?: { _maxPayload?: unknown } })._receiver;
  if (receiver !== undefined && typeof receiver._maxPayload === 'number')
    receiver._maxPayload = maxFrameBytes * 2;
}
