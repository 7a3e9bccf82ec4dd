import {
  CLOSE_CODES,
  closeReason,
  ValueStream,
  type EndpointHandler,
  type CallableOptions,
  type EndpointOptions,
  type User,
  SwitchboardError,
  type DrainingFrame,
  type GoAwayFrame,
  type KeyKind,
  type WelcomeFrame,
  registerResource,
  type ResourceHandlers,
  type ResourceOptions,
  type Task,
  type TaskLaunchOptions,
} from '@switchboard/shared';
import { backoffDelayMs } from './backoff.ts';
import { firstAttemptError } from './connection.ts';
import { Drain, type DrainReason } from './drain.ts';
import { Emitter, type UplinkEvents } from './events.ts';
import type { UplinkFunction } from './incoming-calls.ts';
import { logEvents } from './logger.ts';
import type { ResolvedConnectOptions } from './options.ts';
import type { CallOptions } from './outgoing-calls.ts';
import { Retiring } from './retiring.ts';
import { Served } from './served.ts';
import { Session } from './session.ts';
import { UsersClient } from './users-client.ts';
import { TasksClient } from './tasks-client.ts';

/** Options of `drain()`. */
export interface DrainOptions {
  /**
   * How long calls in flight may take; then they are cut off (SB_ERR_DRAIN_TIMEOUT).
   * @default 30000
   */
  timeoutMs?: number;
}

/**
 * A live uplink: keeps one connection to the server (reconnecting with backoff), restores its
 * registrations after every reconnect, runs incoming calls and routes outgoing ones. When its
 * server says `goaway`, it moves: connects to the next server URL (or the same one, behind a
 * load balancer), registers there, and only then has the old server drain it (make before
 * break; see docs/cluster.md).
 */
export class Uplink {
  /** The server's users, through its `sb.users.*` built-ins (needs a server key). */
  readonly users = new UsersClient(this);
  private readonly tasks = new TasksClient(this);
  readonly events = new Emitter<UplinkEvents>();
  /** The functions and endpoints this uplink serves, and their registrations. */
  readonly served: Served;
  /** The session new calls and registrations go to (see Session). */
  private session: Session;
  /** Sessions of servers going away, serving what they send until the move is done. */
  private readonly retiring = new Map<Session, Retiring>();
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

  constructor(readonly options: ResolvedConnectOptions) {
    this.served = new Served({
      outgoing: () => this.session.outgoing,
      callTimeoutMs: options.callTimeoutMs,
      welcome: () => this.session.welcome,
      draining: () => this.draining !== undefined,
      report: (error) => this.events.emit('error', error),
    });
    this.session = new Session(this);
    if (options.logger !== undefined) logEvents(this.events, options.logger);
  }

  private get welcome(): WelcomeFrame | undefined {
    return this.session.welcome;
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
   * without a server key, and `requireUser` asks those for a signed-in user. `args` (one JSON
   * Schema per argument, or one for the whole array) makes the server check every call's
   * arguments before it reaches any provider (SB_ERR_VALIDATION); `args` and `returns` are
   * published in /_/functions.json for `switchboard types`. Returns a function that withdraws
   * it. Refused at once for a client key; `synced()` reports refusals (SB_ERR_SCHEMA_INVALID,
   * SB_ERR_FUNCTION_CONFLICT).
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

  /**
   * Serves a REST resource (docs/rest.md): `GET path` (list, paged, `q` search), `POST path`
   * (create: 201 with Location), `GET/PUT/PATCH/DELETE path/:id`, for the handlers given. The
   * `item` schema makes the server check bodies and `q` fields before any request gets here.
   * Returns a function that withdraws it; refusals come through `synced()` as for httpEndpoint.
   */
  resource<T extends object = Record<string, unknown>>(
    path: string,
    handlers: ResourceHandlers<T>,
    options?: ResourceOptions,
  ): () => void {
    return registerResource(
      (at, endpointOptions, handler) => this.httpEndpoint(at, endpointOptions, handler),
      path,
      handlers,
      options,
    );
  }

  /** Resolves once the server has acknowledged every registration made so far; rejects with a refusal. */
  synced(): Promise<void> {
    return this.served.synced();
  }

  call(name: string, ...args: unknown[]): Promise<unknown> {
    return this.callWithOptions(name, args);
  }

  /** Launches `name` as a background task on the server (docs/tasks.md): `Task` to watch or kill. */
  launch(name: string, ...args: unknown[]): Promise<Task> {
    return this.tasks.launch(name, args);
  }

  launchWithOptions(name: string, args: unknown[], options?: TaskLaunchOptions): Promise<Task> {
    return this.tasks.launch(name, args, options);
  }

  /** A task by id (SB_ERR_NO_SUCH_TASK if this uplink's key may not see it). */
  task(id: string): Promise<Task> {
    return this.tasks.task(id);
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
    return this.session.outgoing.call(name, args, timeoutMs, options);
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
    this.session.send({ type: 'drain', timeoutMs: Math.ceil(timeoutMs) });
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
    this.session.open(this.wsUrl);
  }

  /** The server URL of the current (or next) connection. */
  private get wsUrl(): string {
    const urls = this.options.wsUrls;
    return urls[this.urlIndex % urls.length]!;
  }

  /** SessionHost: a session's connection is welcomed. */
  welcomed(session: Session, frame: WelcomeFrame): void {
    this.attempt = 0;
    const registered = this.served.welcomed(frame);
    this.events.emit('status', { state: 'connected', connectionId: frame.connectionId });
    if (this.firstConnect !== undefined) {
      clearTimeout(this.firstConnect.timer);
      this.firstConnect.resolve();
      this.firstConnect = undefined;
    }
    if (this.retiring.size === 0) return;
    // Registered here (or refused: the old server goes away all the same): the old ones may go.
    const handOver = () => {
      if (this.session !== session || session.welcome !== frame) return;
      for (const retiring of this.retiring.values()) retiring.handOver();
    };
    if (registered === undefined) handOver();
    else void registered.then(handOver);
  }

  /** SessionHost: `draining` or `goaway` arrived. */
  notice(session: Session, frame: DrainingFrame | GoAwayFrame): void {
    const retiring = this.retiring.get(session);
    if (retiring !== undefined) {
      if (frame.type === 'draining') retiring.drained();
      return;
    }
    if (frame.type === 'goaway') {
      this.events.emit('goaway', { graceMs: frame.graceMs });
      this.move(frame.graceMs);
      return;
    }
    const drain = this.draining ?? this.startDrain(frame.reason, frame.timeoutMs);
    drain.bringForward(frame.timeoutMs);
    this.events.emit('drain', { reason: frame.reason, timeoutMs: frame.timeoutMs });
    drain.acknowledge(); // may close at once (nothing in flight)
  }

  /**
   * The server is going away: a new session to the next URL (the same one, if it is the only
   * one: a load balancer sends it elsewhere) takes new calls and registers; the old one serves
   * on until then (Retiring). Not when reconnecting is off or the uplink drains: it then just
   * waits for the close, as before.
   */
  private move(graceMs: number): void {
    if (this.closed || this.draining !== undefined || this.options.reconnect === false) return;
    const old = this.session;
    this.retiring.set(old, new Retiring(old, graceMs));
    this.session = new Session(this);
    this.urlIndex++;
    this.attempt = 0;
    this.open();
  }

  /** SessionHost: a session's connection ended. */
  lost(session: Session, error: SwitchboardError, permanent: boolean, idle: boolean): void {
    const retiring = this.retiring.get(session);
    if (retiring !== undefined) {
      // The old server closed (or we did, once it drained us): the move is over for it.
      this.retiring.delete(session);
      retiring.ended();
      return;
    }
    if (session !== this.session || this.closed) return;
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

  private startDrain(reason: DrainReason, timeoutMs: number): Drain {
    this.draining = new Drain(reason, timeoutMs, {
      isIdle: () => this.isIdle(),
      end: (drain, cutOff) => this.endDrain(drain, cutOff),
    });
    return this.draining;
  }

  /** Nothing in flight either way, on any session: no call to run or answer, no stream open. */
  private isIdle(): boolean {
    if (!this.session.isIdle()) return false;
    for (const session of this.retiring.keys()) if (!session.isIdle()) return false;
    return true;
  }

  /**
   * Closes a drained uplink for good: 4003 to the server, then the usual shutdown. With
   * `cutOff`, whatever is still running fails with it first (handlers' signals fire).
   */
  private endDrain(drain: Drain, cutOff: SwitchboardError | undefined): void {
    if (cutOff !== undefined) {
      // Everything stops, but the connections stay attached: the closes below still go out.
      this.session.cutOff(cutOff);
      for (const session of this.retiring.keys()) session.cutOff(cutOff);
    }
    const told = cutOff ?? new SwitchboardError('SB_ERR_UPLINK_DRAINED', 'drained');
    this.session.connection?.close(CLOSE_CODES.DRAINED, closeReason(told.code, told.message));
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
    for (const session of [this.session, ...this.retiring.keys()]) session.end(error);
    this.retiring.clear();
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
