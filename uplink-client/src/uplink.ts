import {
  CLOSE_CODES,
  closeReason,
  DEFAULT_STREAM_WINDOW_BYTES,
  PeerEngine,
  decodeServerMessage,
  ValueStream,
  toSwitchboardError,
  type EndpointHandler,
  type CallableOptions,
  type EndpointOptions,
  type User,
  SwitchboardError,
  type KeyKind,
  type ServerToUplinkFrame,
  type UplinkToServerFrame,
  type WelcomeFrame,
  type ErrorFrame,
  type ResultFrame,
} from '@switchboard/shared';
import { backoffDelayMs } from './backoff.ts';
import { Connection, firstAttemptError } from './connection.ts';
import { Drain, type DrainReason } from './drain.ts';
import { Emitter, type UplinkEvents } from './events.ts';
import { IncomingCalls, type UplinkFunction } from './incoming-calls.ts';
import { logEvents } from './logger.ts';
import type { ResolvedConnectOptions } from './options.ts';
import { OutgoingCalls, cancelled, type CallOptions, type Outgoing } from './outgoing-calls.ts';
import { Served } from './served.ts';
import { UsersClient } from './users-client.ts';

/** A request body that could arrive but sends nothing for this long is broken off: 60 s. */
const BODY_STALL_TIMEOUT_MS = 60_000;

/** Options of `drain()`. */
export interface DrainOptions {
  /**
   * How long calls in flight may take; then they are cut off (SB_ERR_DRAIN_TIMEOUT).
   * @default 30000
   */
  timeoutMs?: number;
}

/** Until the first welcome says otherwise, only the hello is sent: this is plenty. */
const INITIAL_MAX_FRAME_BYTES = 1024 * 1024;

/**
 * A live uplink: keeps one connection to the server (reconnecting with backoff), restores its
 * registrations after every reconnect, runs incoming calls and routes outgoing ones.
 */
export class Uplink {
  /** The server's users, through its `sb.users.*` built-ins (needs a server key). */
  readonly users = new UsersClient(this);
  private readonly events = new Emitter<UplinkEvents>();
  /** The functions and endpoints this uplink serves, and their registrations. */
  private readonly served: Served;
  private readonly incoming: IncomingCalls;
  /**
   * The protocol machinery shared with the server: batching, streams both ways (response bodies
   * and results out, request bodies in), large messages, and our calls awaiting answers. It
   * outlives connections: calls not yet sent wait in it for the next one.
   */
  private readonly peer: PeerEngine<UplinkToServerFrame, Outgoing>;
  /** Calls and registrations we make: sent now, or at the next welcome. */
  private readonly outgoing: OutgoingCalls;
  private connection: Connection | undefined;
  private welcome: WelcomeFrame | undefined;
  private attempt = 0;
  /** Which of the server URLs the next connection goes to. */
  private urlIndex = 0;
  private reconnectTimer: NodeJS.Timeout | undefined;
  private closed = false;
  /** Set once the uplink drains: no reconnect, no registrations, close when calls are done. */
  private draining: Drain | undefined;
  private firstConnect:
    | {
        resolve: () => void;
        reject: (error: SwitchboardError) => void;
        timer: NodeJS.Timeout | undefined;
      }
    | undefined;

  constructor(private readonly options: ResolvedConnectOptions) {
    this.peer = new PeerEngine(
      {
        maxFrameBytes: INITIAL_MAX_FRAME_BYTES,
        // welcome sets the window both ways
        streamWindowBytes: DEFAULT_STREAM_WINDOW_BYTES,
        streamStallTimeoutMs: BODY_STALL_TIMEOUT_MS,
        maxMessageBytes: options.maxMessageBytes,
      },
      {
        reassembled: (message) => this.reassembled(message),
        cancelled: (id) => this.incoming.cancel(id, cancelled()),
        // The connection takes connection-level errors as they arrive; one inside a reassembled
        // large message is followed by the close all the same, which reports it.
        peerError: () => undefined,
        streamRefused: (error) => this.events.emit('error', error),
      },
    );
    this.outgoing = new OutgoingCalls(this.peer, {
      ready: () => this.welcome !== undefined,
      send: (frame) => this.connection?.send(frame),
    });
    this.served = new Served({
      outgoing: this.outgoing,
      callTimeoutMs: options.callTimeoutMs,
      welcome: () => this.welcome,
      draining: () => this.draining !== undefined,
      report: (error) => this.events.emit('error', error),
    });
    this.incoming = new IncomingCalls(
      this.served.functions,
      this.served.handlers,
      { peer: this.peer, reply: (frame) => this.answer(frame) },
      options.maxConcurrentCalls,
    );
    if (options.logger !== undefined) {
      this.incoming.logger = options.logger;
      logEvents(this.events, options.logger);
    }
  }

  /**
   * Connects; resolves at the first welcome. Rejects with a coded error when the first attempt
   * fails (unless `waitForServer`) or nothing welcomed us within `connectTimeoutMs`.
   */
  start(): Promise<void> {
    return new Promise((resolve, reject) => {
      const { connectTimeoutMs } = this.options;
      // setTimeout would fire at once for Infinity (it clamps overlarge delays to 1 ms).
      const timer = Number.isFinite(connectTimeoutMs)
        ? setTimeout(() => {
            this.failFirstConnect(
              new SwitchboardError(
                'SB_ERR_CONNECTION_FAILED',
                `Could not connect to ${this.wsUrl} within ${connectTimeoutMs} ms`,
              ),
            );
          }, connectTimeoutMs)
        : undefined;
      this.firstConnect = { resolve, reject, timer };
      this.open();
    });
  }

  /** Server-assigned id of the current connection, if connected. */
  get connectionId(): string | undefined {
    return this.welcome?.connectionId;
  }

  /** Kind of the key, once the server has said (after connecting). */
  get keyKind(): KeyKind | undefined {
    return this.welcome?.keyKind;
  }

  on<K extends keyof UplinkEvents>(event: K, listener: UplinkEvents[K]): () => void {
    return this.events.on(event, listener);
  }

  /**
   * Serves `fn` under `name` (replacing an earlier function of the same name). By default only
   * server keys and app code may call it; `allowClients` opens it to client keys and HTTP callers
   * without a server key, and `requireUser` asks those for a signed-in user. Returns a function
   * that withdraws it. Refused at once for a client key; `synced()` reports refusals.
   */
  callable(name: string, fn: UplinkFunction, options?: CallableOptions<User>): () => void {
    return this.served.addFunction(name, fn, options);
  }

  /**
   * Serves HTTP requests to `/_/api<path>` (`/users/:id`, several `:params` allowed) with
   * `handler(request)`; what it returns becomes the response (see HttpResponse). Returns a
   * function that withdraws it. A conflicting path is refused: `synced()` rejects with
   * SB_ERR_ENDPOINT_CONFLICT (or SB_ERR_SCHEMA_INVALID for a schema the server cannot compile).
   */
  httpEndpoint(path: string, options: EndpointOptions, handler: EndpointHandler): () => void {
    return this.served.addEndpoint(path, options, handler);
  }

  /** Resolves once the server has acknowledged every registration made so far; rejects with a refusal. */
  synced(): Promise<void> {
    return this.served.synced();
  }

  call(name: string, ...args: unknown[]): Promise<unknown> {
    return this.callWithOptions(name, args);
  }

  callWithOptions(name: string, args: unknown[], options: CallOptions = {}): Promise<unknown> {
    // A function that streams its result answers call() with all its parts at once.
    return this.startCall(name, args, options).then((value) =>
      value instanceof ValueStream ? value.collect() : value,
    );
  }

  /**
   * Calls a function that returns an async iterable (an async generator) and yields its parts
   * as they are produced: `for await (const part of uplink.stream('fn', ...args))`. Stopping early
   * stops the producer (its signal fires). A function returning a plain value yields it once.
   */
  stream(name: string, ...args: unknown[]): AsyncIterable<unknown> {
    return this.streamWithOptions(name, args);
  }

  async *streamWithOptions(
    name: string,
    args: unknown[],
    options: CallOptions = {},
  ): AsyncGenerator<unknown> {
    const value = await this.startCall(name, args, options);
    if (value instanceof ValueStream) yield* value;
    else yield value;
  }

  private startCall(name: string, args: unknown[], options: CallOptions): Promise<unknown> {
    if (this.closed) return Promise.reject(new SwitchboardError('SB_ERR_CLIENT_CLOSED'));
    const timeoutMs = options.timeoutMs ?? this.options.callTimeoutMs;
    return this.outgoing.call(name, args, timeoutMs, options);
  }

  /** A large message is complete: its frames are handled as if they had arrived whole. */
  private reassembled(message: Buffer): void {
    let frames: ServerToUplinkFrame[];
    try {
      frames = decodeServerMessage(message);
    } catch (error) {
      this.events.emit('error', toSwitchboardError(error, 'SB_ERR_PROTO_BAD_FRAME'));
      return;
    }
    for (const frame of frames) this.received(frame);
  }

  /**
   * Takes this uplink out of rotation and closes it for good once its calls are done, for a
   * restart without failed requests: start the new version, wait for its `synced()`, then
   * `drain()` the old one. The server sends no new call or HTTP request to it from the moment it
   * gets the request; calls and requests already in flight (streamed answers included) and the
   * uplink's own calls finish normally; then the connection closes (4003) and it does not
   * reconnect. Resolves when closed; rejects with SB_ERR_DRAIN_TIMEOUT if `timeoutMs` passed
   * first (what was left is cut off: handlers' signals fire, own calls fail with that code).
   */
  drain(options: DrainOptions = {}): Promise<void> {
    if (this.draining !== undefined) return this.draining.done;
    if (this.closed) return Promise.resolve();
    const timeoutMs = options.timeoutMs ?? this.options.drainTimeoutMs;
    if (!(timeoutMs > 0) || !Number.isFinite(timeoutMs)) {
      return Promise.reject(
        new SwitchboardError('SB_ERR_OPTIONS_INVALID', 'drain timeoutMs must be positive'),
      );
    }
    if (this.welcome === undefined) {
      // Not connected: nothing is in flight to the server; just stop for good.
      void this.close();
      return Promise.resolve();
    }
    const drain = this.startDrain('requested', timeoutMs);
    this.connection?.send({ type: 'drain', timeoutMs: Math.ceil(timeoutMs) });
    return drain.done;
  }

  /** Closes for good: outgoing calls fail with SB_ERR_CLIENT_CLOSED, running handlers see abort. */
  close(): Promise<void> {
    if (this.closed) return Promise.resolve();
    const error = new SwitchboardError('SB_ERR_CLIENT_CLOSED');
    if (this.firstConnect !== undefined) this.failFirstConnect(error);
    else this.shutdown(error);
    return Promise.resolve();
  }

  // -------------------------------------------------------------------------------------------

  private open(): void {
    this.attempt++;
    this.events.emit('status', { state: 'connecting', attempt: this.attempt });
    this.connection = new Connection(
      this.options,
      this.wsUrl,
      {
        welcome: (frame) => this.welcomed(frame),
        frame: (frame) => this.received(frame),
        closed: (error, permanent) => this.lost(error, permanent),
      },
      this.peer,
    );
  }

  /** The server URL of the current (or next) connection. */
  private get wsUrl(): string {
    const urls = this.options.wsUrls;
    return urls[this.urlIndex % urls.length]!;
  }

  private welcomed(frame: WelcomeFrame): void {
    this.welcome = frame;
    this.attempt = 0;
    // One window both ways: the server sends to us under the same credit it grants us.
    this.peer.setStreamWindow(frame.limits.streamWindowBytes);
    this.peer.setPeerMaxFrameBytes(frame.limits.maxFrameBytes);
    if (frame.limits.maxMessageBytes !== undefined)
      this.peer.large.setPeerLimit(frame.limits.maxMessageBytes);
    this.served.welcomed(frame);
    this.outgoing.sendWaiting();
    this.events.emit('status', { state: 'connected', connectionId: frame.connectionId });
    if (this.firstConnect !== undefined) {
      clearTimeout(this.firstConnect.timer);
      this.firstConnect.resolve();
      this.firstConnect = undefined;
    }
  }

  private received(frame: ServerToUplinkFrame): void {
    switch (frame.type) {
      case 'call':
      case 'request':
        this.incoming.accept(frame);
        return;
      case 'cancel':
      case 'result':
      case 'error':
      case 'credit':
      case 'abort':
      case 'chunk':
      case 'end':
      case 'large':
        this.peer.received(frame);
        return;
      case 'draining': {
        const drain = this.draining ?? this.startDrain(frame.reason, frame.timeoutMs);
        drain.bringForward(frame.timeoutMs);
        this.events.emit('drain', { reason: frame.reason, timeoutMs: frame.timeoutMs });
        drain.acknowledge(); // may close at once (nothing in flight)
        return;
      }
      case 'goaway':
        this.events.emit('goaway', { graceMs: frame.graceMs });
        return;
      case 'welcome':
        return; // only the first welcome counts; the gate lets a repeat through harmlessly
      default: {
        const unreachable: never = frame;
        throw new Error(`unhandled frame ${String(unreachable)}`);
      }
    }
  }

  private lost(error: SwitchboardError, permanent: boolean): void {
    const idle = this.isIdle();
    this.connection = undefined;
    this.welcome = undefined;
    this.peer.disconnect(new SwitchboardError('SB_ERR_CONNECTION_LOST', error.message));
    this.incoming.cancelAll(new SwitchboardError('SB_ERR_CONNECTION_LOST', error.message));
    this.outgoing.connectionLost(error, (registers) => this.served.forget(registers));
    if (this.closed) return;
    if (this.draining !== undefined) {
      // A drained uplink never reconnects; what was in flight was lost with the connection.
      this.draining.finish(idle ? undefined : error);
      return;
    }
    if (this.firstConnect !== undefined && !(this.options.waitForServer && !permanent)) {
      this.failFirstConnect(firstAttemptError(this.wsUrl, error));
      return;
    }
    this.urlIndex++; // another server of the cluster next, when there are several
    if (permanent || this.options.reconnect === false) {
      this.shutdown(error);
      return;
    }
    const delayMs = backoffDelayMs(this.attempt, this.options.reconnect);
    this.events.emit('status', { state: 'reconnecting', attempt: this.attempt, delayMs, error });
    this.reconnectTimer = setTimeout(() => this.open(), delayMs);
  }

  /** An answer that cannot be sent reaches the caller as a bare coded error, and is reported. */
  private answer(frame: ResultFrame | (ErrorFrame & { id: number })): void {
    if (this.welcome === undefined) return;
    const failed = this.peer.answerFrame(frame);
    if (failed !== undefined) this.events.emit('error', failed);
  }

  private startDrain(reason: DrainReason, timeoutMs: number): Drain {
    this.draining = new Drain(reason, timeoutMs, {
      isIdle: () => this.isIdle(),
      end: (drain, cutOff) => this.endDrain(drain, cutOff),
    });
    return this.draining;
  }

  /** Nothing in flight either way: no call to run or answer, no stream open. */
  private isIdle(): boolean {
    return this.incoming.size === 0 && this.peer.quiet;
  }

  /**
   * Closes a drained uplink for good: 4003 to the server, then the usual shutdown. With
   * `cutOff`, whatever is still running fails with it first (handlers' signals fire).
   */
  private endDrain(drain: Drain, cutOff: SwitchboardError | undefined): void {
    if (cutOff !== undefined) {
      // Everything stops, but the connection stays attached: the close below still goes out.
      this.incoming.cancelAll(cutOff);
      this.peer.sender.abortAll();
      this.peer.receiver.failAll(cutOff);
      this.peer.failCalls(cutOff);
    }
    const told = cutOff ?? new SwitchboardError('SB_ERR_UPLINK_DRAINED', 'drained');
    this.connection?.close(CLOSE_CODES.DRAINED, closeReason(told.code, told.message));
    // Our own drain ends as deliberately as close(); one the server started is reported.
    const final =
      cutOff ??
      new SwitchboardError(
        drain.reason === 'requested' ? 'SB_ERR_CLIENT_CLOSED' : 'SB_ERR_UPLINK_DRAINED',
      );
    this.shutdown(final);
  }

  /** The end: no more reconnects; pending calls fail with `error`; handlers see abort. */
  private shutdown(error: SwitchboardError): void {
    if (this.closed) return;
    this.closed = true;
    clearTimeout(this.reconnectTimer);
    this.connection?.close();
    this.peer.failCalls(error);
    this.peer.disconnect(error);
    this.incoming.cancelAll(error);
    const deliberate = error.code === 'SB_ERR_CLIENT_CLOSED';
    this.events.emit('status', deliberate ? { state: 'closed' } : { state: 'closed', error });
    if (!deliberate) this.events.emit('error', error);
  }

  private failFirstConnect(error: SwitchboardError): void {
    if (this.firstConnect === undefined) return;
    clearTimeout(this.firstConnect.timer);
    this.firstConnect.reject(error);
    this.firstConnect = undefined;
    this.shutdown(error);
  }
}
