import {
  PeerEngine,
  SwitchboardError,
  decodeServerMessage,
  decodeUplinkMessage,
  type CallFrame,
  type MessageSink,
  type RequestFrame,
  type ResponseStream,
  type ServerToUplinkFrame,
  type UplinkToServerFrame,
  type LocalHttpRequest,
  type WireHttpRequest,
  StreamQueue,
  TASK_FUNCTIONS,
} from '@switchboard/shared';
import type { FastifyBaseLogger } from 'fastify';
import type { ResolvedOptions } from '../options.ts';
import type { EndpointTable } from '../catalog/endpoint-table.ts';
import type { FunctionRegistry } from '../catalog/registry.ts';
import type { CallOrder, Dispatcher } from '../hub/dispatcher.ts';
import { OutboundCalls, type OutboundCall } from '../hub/outbound-calls.ts';
import type { CallHandle, CallRequest, CallSink, Provider, TaskTag } from '../hub/provider.ts';
import type { RelayedTask } from '../tasks/relayed-tasks.ts';
import type { ClusterTasks } from './cluster-tasks.ts';

/** How long a task's new state sent back to the server that owns it may take. */
const TASK_STATE_TIMEOUT_MS = 10_000;

/** Largest message between two servers: half of NATS's default `max_payload` (1 MiB). */
export const LINK_MAX_FRAME_BYTES = 512 * 1024;

/** What a link needs from the cluster. */
export interface LinkDeps {
  readonly options: ResolvedOptions;
  readonly registry: FunctionRegistry;
  readonly endpoints: EndpointTable;
  readonly dispatcher: Dispatcher;
  readonly log: FastifyBaseLogger;
  /** This server's background tasks (calls of other servers' tasks run here too). */
  readonly tasks?: ClusterTasks;
}

/** The two directions of a link, as message sinks (NATS subjects, see docs/cluster.md). */
export interface LinkTransports {
  /** Our calls and HTTP requests to the other server, and what goes with them. */
  readonly calls: MessageSink;
  /** Our answers to its calls, and what goes with them. */
  readonly answers: MessageSink;
}

/**
 * This server's link to one other server of the cluster, both ways, over the same protocol
 * engine as an uplink connection: it is the provider of the other server's functions and
 * endpoints here (our calls go out as `call`/`request` frames, tracked with their deadlines,
 * cancellation and streams), and it serves the other server's calls on this server's own
 * providers (one hop at most).
 */
export class NodeLink implements Provider {
  readonly providerId: string;
  /** Calls and requests we send it, and their answers. */
  private readonly out: PeerEngine<ServerToUplinkFrame, OutboundCall>;
  private readonly outbound: OutboundCalls;
  /** Its calls to us, and our answers. */
  private readonly serve: PeerEngine<UplinkToServerFrame>;
  /** Its calls we serve, until answered. */
  private readonly running = new Map<number, CallHandle | undefined>();
  private closed = false;

  constructor(
    readonly node: string,
    /**
     * Random per start of that server: a restart is a new link. Empty for a link made on the
     * server's first message, until its heartbeat tells.
     */
    public incarnation: string,
    private readonly deps: LinkDeps,
    transports: LinkTransports,
  ) {
    this.providerId = `node:${node}`;
    const settings = {
      maxFrameBytes: LINK_MAX_FRAME_BYTES,
      streamWindowBytes: deps.options.streamWindowBytes,
      streamStallTimeoutMs: deps.options.streamStallTimeoutMs,
      maxMessageBytes: deps.options.maxMessageBytes,
    };
    this.out = new PeerEngine(settings, {
      reassembled: (message) => this.answersIn(message),
      cancelled: () => undefined, // it never calls on this engine
      peerError: (error) => deps.log.warn({ node, error }, 'cluster node reported an error'),
      streamRefused: (error) => deps.log.warn({ node, error }, 'cluster node refused a stream'),
    });
    this.outbound = new OutboundCalls(this.out);
    this.serve = new PeerEngine(settings, {
      reassembled: (message) => this.callsIn(message),
      cancelled: (id) => this.cancelServing(id),
      peerError: (error) => deps.log.warn({ node, error }, 'cluster node reported an error'),
      streamRefused: (error) => deps.log.warn({ node, error }, 'cluster node refused a stream'),
    });
    this.out.attach(transports.calls);
    this.serve.attach(transports.answers);
  }

  get inFlight(): number {
    return this.out.calls.size;
  }

  get accepting(): boolean {
    return !this.closed;
  }

  /** Its calls this server is serving now. */
  get serving(): number {
    return this.running.size;
  }

  // -------------------------------------------------------------------------------------------
  // Provider: our calls to functions and endpoints the other server has.

  start(request: CallRequest, sink: CallSink): CallHandle {
    if (!this.closed) return this.outbound.start(request, sink);
    sink.reject(new SwitchboardError('SB_ERR_UPLINK_DISCONNECTED', `Server ${this.node} left`));
    return { cancel() {} };
  }

  /** A message on our answers subject: answers to our calls, and their streams. */
  answersIn(message: Uint8Array): void {
    if (this.closed) return;
    let frames: UplinkToServerFrame[];
    try {
      frames = decodeUplinkMessage(message);
    } catch (error) {
      this.deps.log.warn({ node: this.node, err: error }, 'bad message from a cluster node');
      return;
    }
    for (const frame of frames) {
      switch (frame.type) {
        case 'result':
        case 'error':
        case 'chunk':
        case 'end':
        case 'credit':
        case 'abort':
        case 'large':
        case 'cancel':
          this.out.received(frame);
          break;
        default:
          this.deps.log.debug({ node: this.node, type: frame.type }, 'cluster frame ignored');
      }
    }
  }

  // -------------------------------------------------------------------------------------------
  // Serving: the other server's calls, on this server's own providers.

  /** A message on our calls subject: its calls and requests, and their streams. */
  callsIn(message: Uint8Array): void {
    if (this.closed) return;
    let frames: ServerToUplinkFrame[];
    try {
      frames = decodeServerMessage(message);
    } catch (error) {
      this.deps.log.warn({ node: this.node, err: error }, 'bad message from a cluster node');
      return;
    }
    for (const frame of frames) {
      switch (frame.type) {
        case 'call':
        case 'request':
          this.accept(frame);
          break;
        case 'result':
        case 'error':
        case 'chunk':
        case 'end':
        case 'credit':
        case 'abort':
        case 'large':
        case 'cancel':
          this.serve.received(frame);
          break;
        default:
          this.deps.log.debug({ node: this.node, type: frame.type }, 'cluster frame ignored');
      }
    }
  }

  private accept(frame: CallFrame | RequestFrame): void {
    const { id } = frame;
    if (this.running.has(id)) return; // a duplicate: the first one answers
    if (frame.type === 'call' && frame.refusal !== undefined) {
      this.serve.answerFrame({ type: 'error', id, error: frame.refusal });
      return;
    }
    if (!this.servedHere(frame)) {
      this.notServedHere(frame);
      return;
    }
    this.running.set(id, undefined);
    const relay = frame.type === 'call' ? this.relay(frame.task) : undefined;
    const order: CallOrder =
      frame.type === 'call'
        ? {
            name: frame.name,
            args: frame.args,
            timeoutMs: frame.timeoutMs,
            caller: frame.caller ?? { kind: 'app' },
            requestId: frame.requestId,
            local: true,
            ...(frame.payload === undefined
              ? {}
              : { payload: this.serve.large.payload(frame.payload) }),
            ...(relay === undefined ? {} : { task: relay.tag }),
          }
        : {
            name: frame.endpoint,
            args: [],
            http: this.localRequest(frame.request),
            timeoutMs: frame.timeoutMs,
            caller: frame.caller ?? { kind: 'app' },
            requestId: frame.requestId,
            local: true,
          };
    const sink: CallSink = {
      resolve: (value) => {
        relay?.done();
        this.answer(id, value, frame.type === 'request');
      },
      reject: (error) => {
        relay?.done();
        if (!this.running.delete(id)) return;
        this.serve.answerFrame({
          type: 'error',
          id,
          error: error.toWire(error.remoteStack !== undefined),
        });
      },
    };
    const handle = this.deps.dispatcher.dispatch(order, sink);
    if (this.running.has(id)) this.running.set(id, handle);
  }

  /**
   * A call running the other server's task `taskId`: it runs here as a task call (no deadline
   * unless the task has one, the task id on to the uplink), and the handler's `setState` goes
   * back to the other server, which owns the task, as a call of `sb.tasks.setState` there.
   */
  private relay(taskId: string | undefined): { tag: TaskTag; done: () => void } | undefined {
    const relayed = this.deps.tasks?.relayed;
    if (taskId === undefined || relayed === undefined) return undefined;
    const task: RelayedTask = {
      id: taskId,
      provider: undefined,
      setState: (value) => this.call(TASK_FUNCTIONS.setState, [taskId, value]),
    };
    const tag: TaskTag = {
      id: taskId,
      started: (provider) => {
        task.provider = provider.providerId;
      },
      setState: (value) => task.setState(value),
    };
    return { tag, done: relayed.add(task) };
  }

  /** Calls `name` on the other server as this server (trusted, like every frame between them). */
  private call(name: string, args: unknown[]): Promise<void> {
    return new Promise((resolve, reject) => {
      this.start(
        { name, args, timeoutMs: TASK_STATE_TIMEOUT_MS, caller: { kind: 'app' } },
        { resolve: () => resolve(), reject },
      );
    });
  }

  /**
   * Whether one of this server's own providers takes the call now. The other server picked us
   * from our catalog as it last saw it; an uplink may have moved away since (a rolling restart).
   */
  private servedHere(frame: CallFrame | RequestFrame): boolean {
    if (frame.type === 'call') return this.deps.registry.pick(frame.name, true) !== undefined;
    const { method, path } = frame.request;
    return this.deps.endpoints.resolve(method, path, true).kind === 'ok';
  }

  /**
   * Answers SB_ERR_NOT_SERVED_HERE before anything ran: the calling server starts the call again
   * on another provider (see Dispatcher). What was streamed along (args, a body) is dropped.
   */
  private notServedHere(frame: CallFrame | RequestFrame): void {
    if (frame.type === 'call' && frame.payload !== undefined)
      this.serve.large.payload(frame.payload).discard();
    if (frame.type === 'request' && frame.request.bodyStream !== undefined)
      this.serve.receiver.open(frame.request.bodyStream).abort();
    const what = frame.type === 'call' ? frame.name : frame.endpoint;
    const error = new SwitchboardError(
      'SB_ERR_NOT_SERVED_HERE',
      `This server no longer serves ${what} (its provider moved away)`,
    );
    this.serve.answerFrame({ type: 'error', id: frame.id, error: error.toWire(false) });
  }

  /** A request as it arrived, its streamed body (if any) read from the link. */
  private localRequest(request: WireHttpRequest): LocalHttpRequest {
    const { bodyStream, ...rest } = request;
    if (bodyStream === undefined) return rest;
    return { ...rest, bodySource: this.serve.receiver.open(bodyStream).readable() };
  }

  /** Answers call `id`; an HTTP answer's streamed body goes on as a stream of ours. */
  private answer(id: number, value: unknown, isRequest: boolean): void {
    if (!this.running.delete(id)) return;
    const stream = isRequest ? (value as { stream?: ResponseStream } | null)?.stream : undefined;
    if (stream === undefined || typeof stream !== 'object') {
      this.serve.answer(id, value);
      return;
    }
    const queue = new StreamQueue(() => stream.abort());
    stream.attach(queue);
    this.serve.answer(id, { ...(value as object), stream: this.serve.sender.start(queue) });
  }

  private cancelServing(id: number): void {
    const handle = this.running.get(id);
    this.running.delete(id);
    handle?.cancel();
  }

  /**
   * The other server left (or restarted): our calls to it fail with `error`, its calls here are
   * cancelled where they run, every stream both ways ends.
   */
  close(error: SwitchboardError): void {
    if (this.closed) return;
    this.closed = true;
    this.out.disconnect(error);
    this.out.failCalls(error);
    this.serve.disconnect(error);
    const handles = [...this.running.values()];
    this.running.clear();
    for (const handle of handles) handle?.cancel();
    this.out.detach();
    this.serve.detach();
  }

  /** Sends what the engines batched this tick (tests and shutdown). */
  flush(): void {
    this.out.flush();
    this.serve.flush();
  }
}
