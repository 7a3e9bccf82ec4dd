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
import type { KeyRecord } from '../store/key-store.ts';
import type { Dispatcher } from './dispatcher.ts';
import { InboundCalls, type InboundLink } from './inbound-calls.ts';
import { UplinkDrain, type DrainLink } from './uplink-drain.ts';
import { awaitHandoff } from './handoff.ts';
import { answerRegister, answerUnregister } from './registration-frames.ts';
import {
  budgetFor,
  limitReceiver,
  helloKey,
  messageRefusal,
  uplinkCaller,
  welcomeFrame,
} from './uplink-admission.ts';
import { OutboundCalls, type OutboundCall } from './outbound-calls.ts';
import type { CallHandle, CallRequest, CallSink } from './provider.ts';
import { UplinkSocket, type ConnectionDeps, type Opening } from './uplink-socket.ts';

/**
 * One uplink speaking Switchboard's protocol: its hello, the frame loop, calls it serves (it is
 * a Provider) and calls it makes, drain. Everything it owns is released in `release()`. It is
 * itself the hooks of its protocol engine, the link of its inbound calls and of its drain
 * (methods, not closures: thousands of idle connections hold them).
 */
export class UplinkConnection extends UplinkSocket implements PeerHooks, InboundLink, DrainLink {
  readonly dialect = 'switchboard';
  /** The name the uplink gave in `hello`, if any. */
  name: string | null = null;
  /**
   * The protocol machinery shared with the uplink client: batching, streams both ways (request
   * bodies out, response bodies in), large messages, and the calls sent to the uplink.
   */
  readonly peer: PeerEngine<ServerToUplinkFrame, OutboundCall>;
  /** Calls the uplink makes. */
  private readonly inbound: InboundCalls;
  /** Calls and HTTP requests sent to the uplink. */
  private readonly outbound: OutboundCalls;
  /** Largest message accepted from it: the server's, or the client-key budget's. */
  private maxFrameBytes: number;
  /** Budget of one decoded message (server keys: the codec's defaults). */
  private decodeLimits: DecodeLimits = DEFAULT_DECODE_LIMITS;
  /** Who the uplink is when it calls (its key, once the hello is accepted). */
  caller: CallerInfo = { kind: 'uplink' };
  /** Drain and shutdown: out of rotation, told, closed at the deadline. */
  private readonly drainer: UplinkDrain;

  constructor(ws: WebSocket, deps: ConnectionDeps, key: KeyRecord | undefined, opening: Opening) {
    super(ws, deps, opening);
    this.key = key; // checked at the upgrade, or undefined until the hello gives one
    this.maxFrameBytes = deps.options.maxFrameBytes;
    this.peer = new PeerEngine(deps.options, this);
    this.outbound = new OutboundCalls(this.peer);
    this.inbound = new InboundCalls(this);
    this.drainer = new UplinkDrain(this);
    this.peer.attach(deps.traffic.counted(new MessageWriter(ws, opening.socket, false)));
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

  get inFlight(): number {
    return this.peer.calls.size;
  }

  get draining(): boolean {
    return this.drainer.draining;
  }

  /**
   * Nothing under way in either direction: no call to or from it unanswered, no stream open.
   * Shutdown waits for this.
   */
  get isIdle(): boolean {
    return this.peer.quiet && this.inbound.size === 0;
  }

  /** Calls to functions this uplink registered, HTTP requests to its endpoints. */
  protected serve(request: CallRequest, sink: CallSink): CallHandle {
    return this.outbound.start(request, sink);
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
      if (this.state === 'authenticating')
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
    if (this.state === 'authenticating') {
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

  private hello(frame: HelloFrame): void {
    const { keys, keyThrottle } = this.deps;
    const key = helloKey(frame, this.key, (given) =>
      keyThrottle.verify(keys, given, this.remoteAddress),
    );
    if (Array.isArray(key)) {
      this.refuseUnauthenticated(...key);
      return;
    }
    this.authenticated(key);
    const { options } = this.deps;
    const budget = budgetFor(key.kind, options);
    this.maxFrameBytes = budget.maxFrameBytes;
    this.decodeLimits = budget.decodeLimits;
    this.peer.large.setLimit(budget.maxMessageBytes, budget.decodeLimits);
    if (key.kind === 'client') {
      this.peer.sender.sendStacks = false; // failed streams reach it without the thrower's stack
      limitReceiver(this.ws, this.maxFrameBytes);
    }
    this.name = frame.name ?? null;
    if (frame.maxFrameBytes !== undefined)
      this.peer.setPeerMaxFrameBytes(Math.max(1024, frame.maxFrameBytes));
    this.caller = uplinkCaller(key, this.providerId, frame.name);
    this.send(welcomeFrame(this.providerId, key, budget, options));
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

  protected override flush(): void {
    this.peer.flush();
  }

  protected override closeErrorFor(reason: string): SwitchboardError | undefined {
    return this.drainer.closeError(reason);
  }

  protected release(error: SwitchboardError): void {
    this.drainer.dispose();
    this.peer.disconnect(
      this.closeError ??
        new SwitchboardError(
          'SB_ERR_UPLINK_DISCONNECTED',
          `Uplink ${this.label} disconnected in the middle of a stream`,
        ),
    );
    this.peer.failCalls(error);
    this.inbound.cancelAll();
  }
}
