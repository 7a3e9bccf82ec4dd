import { nanoid } from 'nanoid';
import type { Duplex } from 'node:stream';
import type { RawData, WebSocket } from 'ws';
import { CLOSE_CODES, SwitchboardError, type ErrorCode } from '@switchboard/shared';
import type { FastifyBaseLogger } from 'fastify';
import type { ResolvedOptions } from '../options.ts';
import type { KeyRecord, KeyStore } from '../store/key-store.ts';
import type { KeyThrottle } from '../auth/key-throttle.ts';
import type { PrivateDeps } from '../anvil/anvil-private.ts';
import { ProviderRegistrations } from '../catalog/provider-registrations.ts';
import type { EndpointTable } from '../catalog/endpoint-table.ts';
import type { FunctionRegistry } from '../catalog/registry.ts';
import type { UplinkTraffic } from '../observe/uplink-traffic.ts';
import type { Dispatcher } from './dispatcher.ts';
import type { HubConnection } from './hub-connection.ts';
import { Liveness } from './liveness.ts';
import { NOOP_HANDLE, type CallHandle, type CallRequest, type CallSink } from './provider.ts';
import type { PreAuthGuard, Refusal } from './uplink-admission.ts';

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

type State = 'authenticating' | 'open' | 'closed';

/**
 * The socket's listeners are these four functions, shared by every connection (`this` is the
 * WebSocket, which points at its connection): an idle connection holds no closures for them.
 */
const CONNECTION = Symbol('switchboard.connection');
type Owned = WebSocket & { [CONNECTION]: UplinkSocket };
function onMessage(this: WebSocket, data: RawData, isBinary: boolean): void {
  (this as Owned)[CONNECTION].received(data, isBinary);
}
function onPong(this: WebSocket): void {
  (this as Owned)[CONNECTION].heard();
}
function onClose(this: WebSocket, _code: number, reason: Buffer): void {
  (this as Owned)[CONNECTION].socketClosed(reason.toString('utf8'));
}
function onError(this: WebSocket, error: Error): void {
  (this as Owned)[CONNECTION].socketError(error);
}

/**
 * What an uplink's connection is whatever its dialect (Switchboard's frames or Anvil's JSON):
 * its identity and key, the pre-auth guard until it authenticates, liveness, the functions and
 * endpoints it registered, and closing. A dialect adds its message loop, what it does with a
 * call, and how it tells the peer why it closes. Thousands of these sit idle on a server: what
 * each holds for its whole life is fields and methods, not closures.
 */
export abstract class UplinkSocket implements HubConnection {
  abstract readonly dialect: 'switchboard' | 'anvil';
  /** 48 random bits (nanoid: 6 bits a character). */
  readonly providerId = `u_${nanoid(8)}`;
  key: KeyRecord | undefined;
  /** When the WebSocket was accepted (epoch ms). */
  readonly connectedAt = Date.now();
  /** When it was last heard from, and whether a ping is unanswered (see the hub's sweep). */
  readonly liveness = new Liveness();
  /** The peer's IP address as the server's socket saw it. */
  readonly remoteAddress: string;
  protected state: State = 'authenticating';
  protected readonly registrations: ProviderRegistrations;
  /** What calls still in flight fail with when the connection closes. */
  protected closeError: SwitchboardError | undefined;
  /** The byte budget and deadline before it authenticates (dropped once it has). */
  private preAuth: PreAuthGuard | undefined;

  constructor(
    protected readonly ws: WebSocket,
    protected readonly deps: ConnectionDeps,
    opening: Opening,
  ) {
    this.remoteAddress = opening.remoteAddress;
    this.preAuth = opening.preAuth;
    this.preAuth.refuse = (...refusal) => this.refuseUnauthenticated(...refusal);
    this.registrations = new ProviderRegistrations(this, deps.registry, deps.endpoints);
    (ws as Owned)[CONNECTION] = this;
    ws.on('message', onMessage);
    ws.on('pong', onPong);
    ws.on('close', onClose);
    ws.on('error', onError);
  }

  abstract readonly name: string | null;
  /** Calls and HTTP requests sent to it and not yet answered. */
  abstract readonly inFlight: number;
  /** Out of rotation: takes no new calls, finishes those in flight, then disconnects. */
  abstract readonly draining: boolean;
  abstract readonly isIdle: boolean;
  /** A message from the socket (the hub hands over the first one, which chose the dialect). */
  abstract received(data: RawData, isBinary: boolean): void;
  /** Tells the peer why (as its dialect can), then closes with `closeCode`. */
  abstract fail(code: ErrorCode, closeCode: number, message?: string): void;
  abstract drain(reason: 'requested' | 'admin', timeoutMs: number): boolean;
  abstract goAway(graceMs: number): void;
  /** A call to one of its functions, or an HTTP request to one of its endpoints. */
  protected abstract serve(request: CallRequest, sink: CallSink): CallHandle;
  /** Fails what is in flight with `error` and releases what the dialect holds. */
  protected abstract release(error: SwitchboardError): void;

  /** Its name in messages. */
  get label(): string {
    return this.name ?? this.providerId;
  }

  /** Name of the key it authenticated with ('' before it has). */
  get keyName(): string {
    return this.key?.name ?? '';
  }

  get isOpen(): boolean {
    return this.state === 'open';
  }

  get isClosed(): boolean {
    return this.state === 'closed';
  }

  get accepting(): boolean {
    return this.state === 'open' && !this.draining && !this.liveness.unresponsive;
  }

  /** The functions it registered (still listed while draining). */
  functions(): string[] {
    return this.registrations.functionNames();
  }

  /** The endpoints it registered (still listed while draining). */
  endpoints(): Array<{ path: string; methods: string[] }> {
    return this.registrations.endpointList();
  }

  start(request: CallRequest, sink: CallSink): CallHandle {
    if (this.state === 'open') return this.serve(request, sink);
    sink.reject(new SwitchboardError('SB_ERR_UPLINK_DISCONNECTED'));
    return NOOP_HANDLE;
  }

  /** Its key is accepted: the pre-auth guard's watch ends, it is open. */
  protected authenticated(key: KeyRecord): void {
    this.key = key;
    this.preAuth?.end();
    this.preAuth = undefined;
    this.state = 'open';
  }

  /** Before it has authenticated it broke a rule: the refusal, the close, and the socket cut. */
  protected refuseUnauthenticated(...[code, closeCode, message]: Refusal): void {
    this.fail(code, closeCode, message);
    this.preAuth?.cut();
  }

  // -------------------------------------------------------------------------------------------
  // Liveness.

  /** A message or a pong: it is alive. */
  heard(): void {
    if (this.liveness.heard() && this.state === 'open')
      this.deps.log.info({ uplink: this.providerId }, 'uplink answers again; back in rotation');
  }

  ping(): void {
    if (this.state !== 'closed') this.ws.ping();
  }

  /** A ping went unanswered for pongTimeoutMs: out of rotation until it answers. */
  suspect(): void {
    this.deps.log.warn(
      { uplink: this.providerId, inFlight: this.inFlight },
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

  // -------------------------------------------------------------------------------------------
  // Closing.

  /** Closes now; calls in flight fail with `error` (default SB_ERR_UPLINK_DISCONNECTED). */
  close(closeCode: number, reason: string, error?: SwitchboardError): void {
    if (this.state === 'closed') return;
    if (error !== undefined) this.closeError ??= error;
    this.flush();
    this.ws.close(closeCode, reason);
    this.closed();
  }

  /** Writes what is queued before the close frame (a dialect that batches). */
  protected flush(): void {}

  /** The socket closed, whoever closed it; `reason` is the close frame's. */
  socketClosed(reason: string): void {
    this.closeError ??= this.closeErrorFor(reason);
    this.closed();
  }

  /** What calls in flight fail with when the peer closed with `reason` (default: disconnected). */
  protected closeErrorFor(_reason: string): SwitchboardError | undefined {
    return undefined;
  }

  socketError(error: Error): void {
    this.deps.log.debug(
      { err: error, uplink: this.providerId },
      `${this.dialect} uplink socket error`,
    );
  }

  /** Releases everything: registrations, calls in flight (failed at once), timers. */
  private closed(): void {
    if (this.state === 'closed') return;
    this.state = 'closed';
    this.preAuth?.end();
    this.registrations.clear();
    this.release(
      this.closeError ??
        new SwitchboardError(
          'SB_ERR_UPLINK_DISCONNECTED',
          `Uplink ${this.label} disconnected before answering`,
        ),
    );
    this.deps.onClose(this);
  }
}
