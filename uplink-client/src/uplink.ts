import { performance } from 'node:perf_hooks';
import {
  outgoingRequestId,
  CLOSE_CODES,
  closeReason,
  DEFAULT_STREAM_WINDOW_BYTES,
  PeerEngine,
  decodeServerMessage,
  ValueStream,
  assertCallable,
  accessOf,
  endpointRegistration,
  functionRegistration,
  guardedByUser,
  toSwitchboardError,
  type PeerCall,
  type StreamedValue,
  type EndpointHandler,
  type CallableOptions,
  type EndpointOptions,
  type EndpointRegistration,
  type FunctionRegistration,
  type User,
  SwitchboardError,
  isFunctionName,
  type KeyKind,
  type ServerToUplinkFrame,
  type UplinkToServerFrame,
  type WelcomeFrame,
  type CallFrame,
  type ErrorFrame,
  type ResultFrame,
} from '@switchboard/shared';
import { backoffDelayMs } from './backoff.ts';
import { Connection } from './connection.ts';
import { Drain, type DrainReason } from './drain.ts';
import { Emitter, type UplinkEvents } from './events.ts';
import { IncomingCalls, type UplinkFunction } from './incoming-calls.ts';
import type { ResolvedConnectOptions } from './options.ts';
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

/** Per-call options. */
export interface CallOptions {
  /** Deadline for this call; defaults to the uplink's callTimeoutMs. */
  timeoutMs?: number;
  /** Aborting it cancels the call; the remote handler's signal fires. */
  signal?: AbortSignal;
  /**
   * Request id for logs on both sides (1–128 of `A-Z a-z 0-9 . _ : @ / + = -`); by default the
   * id of the call this uplink is serving when called from inside one of its functions.
   */
  requestId?: string;
}

/** Until the first welcome says otherwise, only the hello is sent: this is plenty. */
const INITIAL_MAX_FRAME_BYTES = 1024 * 1024;

/** A request of ours awaiting the server's answer; `frame` is built when it is (re)sent. */
class Outgoing implements PeerCall {
  sent = false;
  readonly decodesLargeAnswer = true;
  /** Its result above one frame, being collected while the call waits for it. */
  answer: StreamedValue | undefined;
  /** A `register`: what it registers, forgotten if the server cannot even decode it. */
  registers: { functions: FunctionRegistration[]; endpoints: EndpointRegistration[] } | undefined;
  constructor(
    readonly frame: (timeoutMs: number) => UplinkToServerFrame,
    readonly deadlineAt: number,
    readonly resolve: (value: unknown) => void,
    readonly reject: (error: SwitchboardError) => void,
  ) {}
}

/**
 * A live uplink: keeps one connection to the server (reconnecting with backoff), restores its
 * registrations after every reconnect, runs incoming calls and routes outgoing ones.
 */
export class Uplink {
  /** The server's users, through its `sb.users.*` built-ins (needs a server key). */
  readonly users = new UsersClient(this);
  private readonly events = new Emitter<UplinkEvents>();
  private readonly functions = new Map<string, UplinkFunction>();
  private readonly functionRegistrations = new Map<string, FunctionRegistration>();
  private readonly endpointHandlers = new Map<string, EndpointHandler>();
  private readonly endpointRegistrations = new Map<string, EndpointRegistration>();
  private readonly incoming: IncomingCalls;
  /**
   * The protocol machinery shared with the server: batching, streams both ways (response bodies
   * and results out, request bodies in), large messages, and our calls awaiting answers. It
   * outlives connections: calls not yet sent wait in it for the next one.
   */
  private readonly peer: PeerEngine<UplinkToServerFrame, Outgoing>;
  private readonly registrations = new Set<Promise<SwitchboardError | undefined>>();
  private connection: Connection | undefined;
  private welcome: WelcomeFrame | undefined;
  private attempt = 0;
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
        // The connection takes connection-level errors before they get here.
        peerError: (error) => this.events.emit('error', error),
        streamRefused: (error) => this.events.emit('error', error),
      },
    );
    this.incoming = new IncomingCalls(
      this.functions,
      this.endpointHandlers,
      {
        result: (id, value, stream) =>
          this.answer(
            stream === undefined ? { type: 'result', id, value } : { type: 'result', id, stream },
          ),
        error: (id, error) => this.answer({ type: 'error', id, error }),
        stream: (source, done, whole) => this.peer.sender.start(source, done, whole),
        abortStream: (id) => this.peer.sender.abort(id),
        receive: (id) => this.peer.receiver.open(id),
        payload: (payload) => this.peer.large.payload(payload),
      },
      options.maxConcurrentCalls,
    );
    const { logger } = options;
    if (logger !== undefined) {
      this.incoming.logger = logger;
      this.events.on('status', (status) => {
        if (status.state === 'connected')
          logger.info({ connectionId: status.connectionId }, 'uplink connected');
        else if (status.state === 'reconnecting')
          logger.info(
            { attempt: status.attempt, delayMs: status.delayMs, code: status.error.code },
            'uplink reconnecting',
          );
        else if (status.state === 'closed')
          logger.info({ code: status.error?.code }, 'uplink closed');
      });
      this.events.on('error', (error) =>
        logger.warn({ code: error.code, reason: error.message }, 'uplink error'),
      );
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
                `Could not connect to ${this.options.wsUrl} within ${connectTimeoutMs} ms`,
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
    assertCallable(name, fn);
    const registration = functionRegistration(name, accessOf(options));
    this.refuseClientKey();
    const check = options?.requireUser;
    const served = typeof check === 'function' ? guardedByUser(fn, check) : fn;
    const previous = this.functionRegistrations.get(name);
    this.functions.set(name, served);
    this.functionRegistrations.set(name, registration);
    const changed =
      previous === undefined ||
      previous.allowClients !== registration.allowClients ||
      previous.requireUser !== registration.requireUser;
    if (changed && this.welcome !== undefined) this.register([registration], []);
    return () => {
      if (this.functions.get(name) !== served) return;
      this.functions.delete(name);
      this.functionRegistrations.delete(name);
      this.unregister([name], []);
    };
  }

  /**
   * Serves HTTP requests to `/_/api<path>` (`/users/:id`, several `:params` allowed) with
   * `handler(request)`; what it returns becomes the response (see HttpResponse). Returns a
   * function that withdraws it. A conflicting path is refused: `synced()` rejects with
   * SB_ERR_ENDPOINT_CONFLICT (or SB_ERR_SCHEMA_INVALID for a schema the server cannot compile).
   */
  httpEndpoint(path: string, options: EndpointOptions, handler: EndpointHandler): () => void {
    const registration = endpointRegistration(path, options, handler);
    this.refuseClientKey();
    this.endpointHandlers.set(path, handler);
    this.endpointRegistrations.set(path, registration);
    if (this.welcome !== undefined) this.register([], [registration]);
    return () => {
      if (this.endpointHandlers.get(path) !== handler) return;
      this.endpointHandlers.delete(path);
      this.endpointRegistrations.delete(path);
      this.unregister([], [path]);
    };
  }

  /** Resolves once the server has acknowledged every registration made so far; rejects with a refusal. */
  async synced(): Promise<void> {
    const outcomes = await Promise.all(this.registrations);
    const refusal = outcomes.find((error) => error !== undefined);
    if (refusal !== undefined) throw refusal;
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
    if (!isFunctionName(name)) {
      return Promise.reject(
        new SwitchboardError(
          'SB_ERR_NAME_INVALID',
          `Invalid function name ${JSON.stringify(name)}`,
        ),
      );
    }
    const timeoutMs = options.timeoutMs ?? this.options.callTimeoutMs;
    if (!(timeoutMs > 0)) {
      return Promise.reject(
        new SwitchboardError('SB_ERR_OPTIONS_INVALID', 'timeoutMs must be positive'),
      );
    }
    const { signal } = options;
    if (signal?.aborted) return Promise.reject(cancelled());
    // The request being served travels on with the calls it makes (logs tie them together).
    let requestId: string | undefined;
    try {
      requestId = outgoingRequestId(options.requestId);
    } catch (error) {
      return Promise.reject(toSwitchboardError(error));
    }
    const promise = this.request((id) => {
      const frame: CallFrame = {
        type: 'call',
        id,
        name,
        args,
        timeoutMs: Math.max(1, Math.ceil(timeoutMs)),
      };
      if (requestId !== undefined) frame.requestId = requestId;
      return frame;
    }, timeoutMs);
    if (signal === undefined) return promise.promise;
    const onAbort = () => this.cancelOutgoing(promise.id);
    signal.addEventListener('abort', onAbort, { once: true });
    return promise.promise.finally(() => signal.removeEventListener('abort', onAbort));
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
      {
        welcome: (frame) => this.welcomed(frame),
        frame: (frame) => this.received(frame),
        closed: (error, permanent) => this.lost(error, permanent),
      },
      this.peer,
    );
  }

  private welcomed(frame: WelcomeFrame): void {
    this.welcome = frame;
    this.attempt = 0;
    // One window both ways: the server sends to us under the same credit it grants us.
    this.peer.setStreamWindow(frame.limits.streamWindowBytes);
    this.peer.setPeerMaxFrameBytes(frame.limits.maxFrameBytes);
    if (frame.limits.maxMessageBytes !== undefined)
      this.peer.large.setPeerLimit(frame.limits.maxMessageBytes);
    if (this.functions.size + this.endpointHandlers.size > 0) {
      if (frame.keyKind === 'client') {
        this.events.emit(
          'error',
          new SwitchboardError(
            'SB_ERR_PERMISSION_DENIED',
            'A client key may not register functions',
          ),
        );
      } else {
        this.register(
          [...this.functionRegistrations.values()],
          [...this.endpointRegistrations.values()],
        );
      }
    }
    for (const [id, call] of this.peer.calls.snapshot()) if (!call.sent) this.transmit(id, call);
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
    // A protocol error while a registration was unanswered: the server could not decode it (a
    // server older or stricter than this client). Sending it again after every reconnect would
    // loop forever, so it fails with that code and is forgotten.
    const undecodable = error.code === 'SB_ERR_PROTO_BAD_FRAME';
    // Calls already sent are lost with the connection (the server cancelled them); calls not
    // yet sent wait for the next connection within their own deadline.
    for (const [id, call] of this.peer.calls.snapshot()) {
      if (undecodable && call.sent && call.registers !== undefined) {
        this.peer.calls.take(id);
        this.forget(call.registers);
        call.reject(error);
      } else if (call.sent && this.peer.calls.take(id) !== undefined) {
        call.reject(
          new SwitchboardError(
            'SB_ERR_CONNECTION_LOST',
            `Connection lost before the answer: ${error.message}`,
          ),
        );
      }
    }
    if (this.closed) return;
    if (this.draining !== undefined) {
      // A drained uplink never reconnects; what was in flight was lost with the connection.
      this.draining.finish(idle ? undefined : error);
      return;
    }
    if (this.firstConnect !== undefined && !(this.options.waitForServer && !permanent)) {
      this.failFirstConnect(firstAttemptError(this.options.wsUrl, error));
      return;
    }
    if (permanent || this.options.reconnect === false) {
      this.shutdown(error);
      return;
    }
    const delayMs = backoffDelayMs(this.attempt, this.options.reconnect);
    this.events.emit('status', { state: 'reconnecting', attempt: this.attempt, delayMs, error });
    this.reconnectTimer = setTimeout(() => this.open(), delayMs);
  }

  private register(functions: FunctionRegistration[], endpoints: EndpointRegistration[]): void {
    if (this.draining !== undefined) return; // out of rotation for good
    this.track(
      this.request(
        (id) => ({ type: 'register', id, functions, endpoints }),
        this.options.callTimeoutMs,
        { functions, endpoints },
      ),
    );
  }

  /** Drops registrations the server could not take, unless they were replaced meanwhile. */
  private forget(registers: {
    functions: FunctionRegistration[];
    endpoints: EndpointRegistration[];
  }): void {
    for (const registration of registers.functions) {
      if (this.functionRegistrations.get(registration.name) !== registration) continue;
      this.functionRegistrations.delete(registration.name);
      this.functions.delete(registration.name);
    }
    for (const registration of registers.endpoints) {
      if (this.endpointRegistrations.get(registration.path) !== registration) continue;
      this.endpointRegistrations.delete(registration.path);
      this.endpointHandlers.delete(registration.path);
    }
  }

  private unregister(names: string[], paths: string[]): void {
    if (this.welcome === undefined) return; // the next welcome registers only what is left
    if (this.draining !== undefined) return; // the server has withdrawn everything already
    this.track(
      this.request((id) => ({ type: 'unregister', id, names, paths }), this.options.callTimeoutMs),
    );
  }

  private refuseClientKey(): void {
    if (this.welcome?.keyKind === 'client') {
      throw new SwitchboardError(
        'SB_ERR_PERMISSION_DENIED',
        'A client key may call functions but not register them or endpoints',
      );
    }
  }

  private track(request: { promise: Promise<unknown> }): void {
    const outcome = request.promise.then(
      () => undefined,
      (error: SwitchboardError) => {
        // A registration lost with its connection is sent again after the next welcome.
        if (error.code === 'SB_ERR_CONNECTION_LOST') return undefined;
        if (error.code !== 'SB_ERR_CLIENT_CLOSED') this.events.emit('error', error);
        return error;
      },
    );
    this.registrations.add(outcome);
    void outcome.then(() => this.registrations.delete(outcome));
  }

  private request(
    frame: (id: number, timeoutMs: number) => UplinkToServerFrame,
    timeoutMs: number,
    registers?: Outgoing['registers'],
  ): { id: number; promise: Promise<unknown> } {
    const id = this.peer.calls.allocateId();
    const promise = new Promise<unknown>((resolve, reject) => {
      const call = new Outgoing(
        (remaining) => frame(id, remaining),
        performance.now() + timeoutMs,
        resolve,
        reject,
      );
      call.registers = registers;
      this.peer.track(id, call);
      if (this.welcome !== undefined) this.transmit(id, call);
    });
    return { id, promise };
  }

  private transmit(id: number, call: Outgoing): void {
    const remaining = Math.max(1, Math.ceil(call.deadlineAt - performance.now()));
    try {
      this.connection?.send(call.frame(remaining));
      call.sent = true;
    } catch (error) {
      this.peer.calls.take(id);
      call.reject(toSwitchboardError(error));
    }
  }

  private cancelOutgoing(id: number): void {
    this.peer.withdraw(id, cancelled());
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

/** A refused or dropped first attempt, said with the address and the way to wait instead. */
function firstAttemptError(wsUrl: string, error: SwitchboardError): SwitchboardError {
  if (error.code !== 'SB_ERR_CONNECTION_FAILED' && error.code !== 'SB_ERR_CONNECTION_LOST')
    return error;
  return new SwitchboardError(
    'SB_ERR_CONNECTION_FAILED',
    `Could not connect to ${wsUrl} (${error.message}); is the server running? ` +
      'Pass waitForServer: true to wait for it',
    { cause: error },
  );
}

function cancelled(): SwitchboardError {
  return new SwitchboardError('SB_ERR_CALL_CANCELLED');
}
