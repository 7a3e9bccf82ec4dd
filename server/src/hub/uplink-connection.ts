import { nanoid } from 'nanoid';
import type { Duplex } from 'node:stream';
import type { WebSocket, RawData } from 'ws';
import {
  CLOSE_CODES,
  PeerEngine,
  SwitchboardError,
  closeReason,
  decodeUplinkMessage,
  DEFAULT_DECODE_LIMITS,
  type DecodeLimits,
  MessageWriter,
  toSwitchboardError,
  type ErrorFrame,
  type HelloFrame,
  type ResultFrame,
  type CallerInfo,
  type ErrorCode,
  type ServerToUplinkFrame,
  type UplinkToServerFrame,
  type WireError,
  type PeerHooks,
  type KeyKind,
} from '@switchboard/shared';
import type { FastifyBaseLogger } from 'fastify';
import type { ResolvedOptions } from '../options.ts';
import type { KeyRecord, KeyStore } from '../store/key-store.ts';
import type { KeyThrottle } from '../auth/key-throttle.ts';
import { Liveness } from './liveness.ts';
import type { Dispatcher } from './dispatcher.ts';
import { ProviderRegistrations } from '../catalog/provider-registrations.ts';
import { InboundCalls, type InboundLink } from './inbound-calls.ts';
import { UplinkDrain, type DrainLink } from './uplink-drain.ts';
import { awaitHandoff } from './handoff.ts';
import { answerRegister, answerUnregister } from './registration-frames.ts';
import {
  type PreAuthGuard,
  budgetFor,
  limitReceiver,
  helloKey,
  messageRefusal,
  uplinkCaller,
  welcomeFrame,
} from './uplink-admission.ts';
import { OutboundCalls, type OutboundCall } from './outbound-calls.ts';
import { NOOP_HANDLE, type CallHandle, type CallRequest, type CallSink } from './provider.ts';
import type { HubConnection } from './hub-connection.ts';
import type { PrivateDeps } from '../anvil/anvil-private.ts';
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
  /** What the `anvil.private.*` functions of Anvil-dialect uplinks need (sign-in, origins). */
  readonly anvil: PrivateDeps;
  onOpen(connection: HubConnection): void;
  onClose(connection: HubConnection): void;
}

/** A WebSocket just accepted on /_/uplink, watched until it authenticates. */
export interface Opening {
  /** The upgraded socket under `ws`. */
  readonly socket: Duplex;
  /** The peer's IP address as the server's socket saw it. */
  readonly remoteAddress: string;
  readonly preAuth: PreAuthGuard;
}

type State = 'awaiting-hello' | 'open' | 'closed';

/**
 * The socket's listeners are these four functions, shared by every connection (`this` is the
 * WebSocket, which points at its connection): an idle connection holds no closures for them.
 */
const CONNECTION = Symbol('switchboard.connection');
const connectionOf = (ws: WebSocket): UplinkConnection =>
  (ws as WebSocket & { [CONNECTION]: UplinkConnection })[CONNECTION];
function onMessage(this: WebSocket, data: RawData, isBinary: boolean): void {
  connectionOf(this).received(data, isBinary);
}
function onPong(this: WebSocket): void {
  connectionOf(this).heard();
}
function onClose(this: WebSocket, _code: number, reason: Buffer): void {
  connectionOf(this).socketClosed(reason);
}
function onError(this: WebSocket, error: Error): void {
  connectionOf(this).socketError(error);
}

/**
 * One uplink's WebSocket: authentication, the frame loop, the functions it registered, calls
 * it serves (it is a Provider) and calls it makes. Everything it owns is released in `closed()`.
 * It is itself the hooks of its protocol engine, the link of its inbound calls and of its drain
 * (methods, not closures: thousands of idle connections hold them).
 */
export class UplinkConnection implements HubConnection, PeerHooks, InboundLink, DrainLink {
  readonly dialect = 'switchboard';
  readonly providerId: string;
  key: KeyRecord | undefined;
  /** The name the uplink gave in `hello`, if any. */
  name: string | null = null;
  /** When the WebSocket was accepted (epoch ms). */
  readonly connectedAt = Date.now();
  /** When it was last heard from, and whether a ping is unanswered (see the hub's sweep). */
  readonly liveness = new Liveness();

  private state: State = 'awaiting-hello';
  /**
   * The protocol machinery shared with the uplink client: batching, streams both ways (request
   * bodies out, response bodies in), large messages, and the calls sent to the uplink.
   */
  readonly peer: PeerEngine<ServerToUplinkFrame, OutboundCall>;
  /** Calls the uplink makes. */
  private readonly inbound: InboundCalls;
  /** Calls and HTTP requests sent to the uplink. */
  private readonly outbound: OutboundCalls;
  private readonly registrations: ProviderRegistrations;
  /** The byte budget and deadline before the hello is accepted (dropped once it is). */
  private preAuth: PreAuthGuard | undefined;
  /** The peer's IP address as the server's socket saw it. */
  readonly remoteAddress: string;
  /** Largest message accepted from it: the server's, or the client-key budget's. */
  private maxFrameBytes: number;
  /** Budget of one decoded message (server keys: the codec's defaults). */
  private decodeLimits: DecodeLimits = DEFAULT_DECODE_LIMITS;
  /** Who the uplink is when it calls (its key, once the hello is accepted). */
  caller: CallerInfo = { kind: 'uplink' };
  /** Drain and shutdown: out of rotation, told, closed at the deadline. */
  private readonly drainer: UplinkDrain;
  /** What calls still in flight fail with when the connection closes. */
  private closeError: SwitchboardError | undefined;

  constructor(
    private readonly ws: WebSocket,
    private readonly deps: ConnectionDeps,
    key: KeyRecord | undefined,
    opening: Opening,
  ) {
    this.remoteAddress = opening.remoteAddress;
    this.maxFrameBytes = deps.options.maxFrameBytes;
    this.preAuth = opening.preAuth;
    this.preAuth.refuse = (...refusal) => this.refuseUnauthenticated(...refusal);
    this.providerId = `u_${nanoid(8)}`; // 48 random bits (nanoid: 6 bits a character)
    this.registrations = new ProviderRegistrations(this, deps.registry, deps.endpoints);
    this.key = key;
    this.peer = new PeerEngine(deps.options, this);
    this.outbound = new OutboundCalls(this.peer);
    this.inbound = new InboundCalls(this);
    this.drainer = new UplinkDrain(this);
    this.peer.attach(deps.traffic.counted(new MessageWriter(ws, opening.socket, false)));
    (ws as WebSocket & { [CONNECTION]: UplinkConnection })[CONNECTION] = this;
    ws.on('message', onMessage);
    ws.on('pong', onPong);
    ws.on('close', onClose);
    ws.on('error', onError);
  }

  /** The socket closed (whoever closed it). */
  socketClosed(reason: Buffer): void {
    this.closeError ??= this.drainer.closeError(reason.toString('utf8'));
    this.closed();
  }

  socketError(error: Error): void {
    this.deps.log.debug({ err: error, uplink: this.providerId }, 'uplink socket error');
  }

  // -------------------------------------------------------------------------------------------
  // PeerHooks (its protocol engine's).

  reassembled(message: Buffer): void {
    if (this.state === 'open') this.message(message);
  }

  cancelled(id: number): void {
    this.inbound.cancelled(id);
  }

  peerError(error: SwitchboardError): void {
    this.deps.log.warn({ uplink: this.providerId, error }, 'uplink reported an error');
  }

  streamRefused(error: SwitchboardError): void {
    this.deps.log.warn({ uplink: this.providerId, error }, 'uplink refused a stream');
  }

  // -------------------------------------------------------------------------------------------
  // InboundLink and DrainLink (its inbound calls' and its drain's).

  get dispatcher(): Dispatcher {
    return this.deps.dispatcher;
  }

  get keyKind(): KeyKind | undefined {
    return this.key?.kind;
  }

  get refusesNewWork(): boolean {
    return this.drainer.goingAway && this.peer.calls.size === 0 && this.peer.receiver.size === 0;
  }

  withdraw(): void {
    this.registrations.withdraw();
  }

  cutOff(error: SwitchboardError, closeCode: number): void {
    this.closeError = error;
    this.fail(error.code, closeCode, error.message);
  }

  handoff(): Promise<void> | undefined {
    const { options, registry, endpoints } = this.deps;
    return options.cluster === undefined ? undefined : awaitHandoff(this, registry, endpoints);
  }

  /** Calls and HTTP requests sent to this uplink and not yet answered. */
  get inFlight(): number {
    return this.peer.calls.size;
  }

  /** Name of the key the uplink authenticated with ('' before it has). */
  get keyName(): string {
    return this.key?.name ?? '';
  }

  /** Out of rotation: takes no new calls, finishes those in flight, then disconnects. */
  get draining(): boolean {
    return this.drainer.draining;
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
    return this.peer.quiet && this.inbound.size === 0;
  }

  get label(): string {
    return this.name ?? this.providerId;
  }

  get isOpen(): boolean {
    return this.state === 'open';
  }

  get accepting(): boolean {
    return this.state === 'open' && !this.drainer.draining && !this.liveness.unresponsive;
  }

  get isClosed(): boolean {
    return this.state === 'closed';
  }

  // -------------------------------------------------------------------------------------------
  // Provider: calls to functions this uplink registered.

  start(request: CallRequest, sink: CallSink): CallHandle {
    if (this.state === 'open') return this.outbound.start(request, sink);
    sink.reject(new SwitchboardError('SB_ERR_UPLINK_DISCONNECTED'));
    return NOOP_HANDLE;
  }

  // -------------------------------------------------------------------------------------------
  // The frame loop.

  received(data: RawData, isBinary: boolean): void {
    if (this.state === 'closed') return;
    this.heard();
    if (isBinary && Buffer.isBuffer(data)) this.deps.traffic.bytesIn += data.byteLength;
    const refusal = messageRefusal(data, isBinary, this.maxFrameBytes);
    if (refusal === undefined) this.message(data as Buffer);
    else this.fail(...refusal);
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
        this.send(answerRegister(frame, this.registrations, this.key, this.draining));
        return;
      case 'unregister':
        this.send(answerUnregister(frame, this.registrations));
        return;
      case 'call':
        this.inbound.accept(frame);
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
      case 'cancel':
      case 'result':
      case 'error':
      case 'chunk':
      case 'end':
      case 'credit':
      case 'abort':
      case 'large':
        this.peer.received(frame);
        return;
      default: {
        const unreachable: never = frame;
        throw new Error(`unhandled frame ${String(unreachable)}`);
      }
    }
  }

  /** A connection that is not authenticated broke a rule: coded error, close, and cut. */
  private refuseUnauthenticated(code: ErrorCode, closeCode: number, message?: string): void {
    this.fail(code, closeCode, message);
    this.preAuth?.cut();
  }

  /** A message or a pong: it is alive. */
  heard(): void {
    if (this.liveness.heard() && this.state === 'open')
      this.deps.log.info({ uplink: this.providerId }, 'uplink answers again; back in rotation');
  }

  /** A ping went unanswered for pongTimeoutMs: out of rotation until it answers. */
  suspect(): void {
    this.deps.log.warn(
      { uplink: this.providerId, inFlight: this.peer.calls.size },
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

  private hello(frame: HelloFrame): void {
    const { keys, keyThrottle } = this.deps;
    const key = helloKey(frame, this.key, (given) =>
      keyThrottle.verify(keys, given, this.remoteAddress),
    );
    if (Array.isArray(key)) {
      this.refuseUnauthenticated(...key);
      return;
    }
    this.key = key;
    this.preAuth?.end();
    this.preAuth = undefined;
    const { options } = this.deps;
    const budget = budgetFor(this.key.kind, options);
    this.maxFrameBytes = budget.maxFrameBytes;
    this.decodeLimits = budget.decodeLimits;
    this.peer.large.setLimit(budget.maxMessageBytes, budget.decodeLimits);
    if (this.key.kind === 'client') {
      this.peer.sender.sendStacks = false; // failed streams reach it without the thrower's stack
      limitReceiver(this.ws, this.maxFrameBytes);
    }
    this.state = 'open';
    this.name = frame.name ?? null;
    if (frame.maxFrameBytes !== undefined)
      this.peer.setPeerMaxFrameBytes(Math.max(1024, frame.maxFrameBytes));
    this.caller = uplinkCaller(key, this.providerId, frame.name);
    this.send(welcomeFrame(this.providerId, this.key, budget, options));
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
    if (this.drainer.draining) return true;
    this.drainer.start(reason, timeoutMs);
    this.deps.log.info({ uplink: this.providerId, reason, timeoutMs }, 'draining uplink');
    return true;
  }

  /** The server is shutting down: tell the uplink, and refuse new work from it from now on. */
  goAway(graceMs: number): void {
    if (this.state === 'open') this.drainer.goAway(graceMs);
  }

  // -------------------------------------------------------------------------------------------
  // Sending and closing.

  /** Queues a frame; an answer that cannot be sent becomes a bare coded error (see PeerEngine). */
  send(frame: ServerToUplinkFrame): void {
    if (this.state === 'closed') return;
    if ((frame.type === 'result' || frame.type === 'error') && frame.id !== undefined)
      this.peer.answerFrame(frame as ResultFrame | (ErrorFrame & { id: number }));
    else this.peer.push(frame);
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
    this.peer.flush();
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
    this.preAuth?.end();
    this.drainer.dispose();
    this.registrations.clear();
    this.peer.disconnect(
      this.closeError ??
        new SwitchboardError(
          'SB_ERR_UPLINK_DISCONNECTED',
          `Uplink ${this.label} disconnected in the middle of a stream`,
        ),
    );
    this.peer.failCalls(
      this.closeError ??
        new SwitchboardError(
          'SB_ERR_UPLINK_DISCONNECTED',
          `Uplink ${this.label} disconnected before answering`,
        ),
    );
    this.inbound.cancelAll();
    this.deps.onClose(this);
  }
}
