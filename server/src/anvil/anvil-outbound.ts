import { performance } from 'node:perf_hooks';
import {
  HttpRequest,
  PendingCalls,
  SwitchboardError,
  type PendingEntry,
} from '@switchboard/shared';
import {
  NOOP_HANDLE,
  type CallHandle,
  type CallRequest,
  type CallSink,
  type TaskTag,
} from '../hub/provider.ts';
import { startWithDecodedArgs } from '../hub/decoded-args.ts';
import { endpointAnswer, endpointKwargs } from './anvil-http.ts';
import type { EndpointContext } from './anvil-private.ts';
import { fromAnvilError } from './anvil-values.ts';
import { AnvilTaskRuns, type TaskRunsLink } from './anvil-task-runs.ts';

/** What the calls to an Anvil uplink need of its connection. */
export interface OutboundLink extends TaskRunsLink {
  /** Prefix of this connection's call ids: unique in the server, so that an answer for a call
   * of an earlier connection (the uplink reconnected meanwhile) never matches a new call. */
  readonly idPrefix: string;
  /** Sends a CALL (with its media). */
  post(message: Record<string, unknown>): void;
  /** A call was settled (answered, timed out, withdrawn, or failed). */
  settled(): void;
  readonly appInfo: Record<string, unknown>;
  /** How the uplink registered function `name`: `@callable`, `@background_task`, or both. */
  served(name: string): { callable: boolean; task: boolean };
}

/** A call or HTTP request sent to the uplink, awaiting its answer. */
class AnvilCall implements PendingEntry, CallHandle {
  readonly deadlineAt: number;
  readonly requestId: string | undefined;
  /** Set for an HTTP request: the request the uplink's nested calls (cookies, users) act on. */
  readonly context: EndpointContext | undefined;
  /** Set when it was sent as LAUNCH_BACKGROUND (a background task the uplink runs). */
  task: TaskTag | undefined;

  constructor(
    private readonly owner: AnvilOutbound,
    readonly id: number,
    readonly sink: CallSink,
    from: { request: CallRequest; context: EndpointContext | undefined },
  ) {
    this.deadlineAt = performance.now() + from.request.timeoutMs;
    this.requestId = from.request.requestId;
    this.context = from.context;
  }

  cancel(): void {
    this.owner.cancel(this);
  }
}

/**
 * The calls and HTTP requests this server sends to one Anvil uplink (it is their provider):
 * as CALL messages, tracked until the answer arrives or the deadline passes. The dialect has
 * no cancel: a withdrawn call's late answer is dropped.
 */
export class AnvilOutbound {
  /** Set once the connection is gone: what a call that starts late (after its args or form
   * were decoded) fails with, instead of waiting for its deadline. */
  private closedWith: SwitchboardError | undefined;
  private readonly pending = new PendingCalls<AnvilCall>({
    expired: (id, call) => {
      if (call.task !== undefined) this.tasks.kill(this.wireId(id));
      call.sink.reject(new SwitchboardError('SB_ERR_CALL_TIMEOUT'));
      this.link.settled();
    },
  });
  private readonly tasks: AnvilTaskRuns;

  constructor(private readonly link: OutboundLink) {
    this.tasks = new AnvilTaskRuns(link);
  }

  get size(): number {
    return this.pending.size;
  }

  start(request: CallRequest, sink: CallSink): CallHandle {
    return startWithDecodedArgs(request, sink, (whole, to) => this.send(whole, to));
  }

  private send(request: CallRequest, sink: CallSink): CallHandle {
    if (this.closedWith !== undefined) {
      sink.reject(this.closedWith);
      return NOOP_HANDLE;
    }
    const { http } = request;
    if (http === undefined) {
      const served = this.link.served(request.name);
      if (request.task === undefined && served.task && !served.callable) {
        sink.reject(
          new SwitchboardError(
            'SB_ERR_TASK_ONLY',
            `${request.name} is an @anvil.server.background_task: launch it as a task`,
          ),
        );
        return NOOP_HANDLE;
      }
      const call = this.track(request, sink, undefined);
      const what = { command: request.name, args: request.args, kwargs: {} };
      if (request.task === undefined || !served.task) {
        this.post(call, request, what);
        return call;
      }
      call.task = request.task;
      this.post(call, request, { ...what, command: `task:${request.name}` }, 'LAUNCH_BACKGROUND');
      this.tasks.started(this.wireId(call.id), request.task);
      return call;
    }
    if (http.bodySource !== undefined) {
      sink.reject(
        new SwitchboardError(
          'SB_ERR_HTTP_BAD_BODY',
          'Anvil uplinks take buffered bodies only (no maxBodyBytes endpoints)',
        ),
      );
      return NOOP_HANDLE;
    }
    if (http.bodyChunks !== undefined) {
      http.body = Buffer.concat(http.bodyChunks);
      http.bodyChunks = undefined;
    }
    let built: HttpRequest | Promise<HttpRequest>;
    try {
      built = HttpRequest.fromWire(http, request.requestId);
    } catch (error) {
      sink.reject(error as SwitchboardError);
      return NOOP_HANDLE;
    }
    const go = (httpRequest: HttpRequest): AnvilCall => {
      const context: EndpointContext = { request: httpRequest, user: http.user };
      const call = this.track(request, sink, context);
      const kwargs = endpointKwargs(httpRequest, http);
      this.post(call, request, { command: `http:${http.path}`, args: [], kwargs });
      return call;
    };
    if (built instanceof HttpRequest) return go(built);
    // A multipart form is parsed before the request goes out.
    let call: AnvilCall | undefined;
    let cancelled = false;
    built.then(
      (parsed) => {
        if (cancelled) return;
        if (this.closedWith === undefined) call = go(parsed);
        else sink.reject(this.closedWith);
      },
      (error: unknown) => {
        if (!cancelled) sink.reject(error as SwitchboardError);
      },
    );
    return {
      cancel: () => {
        if (call !== undefined) call.cancel();
        else if (!cancelled) {
          cancelled = true;
          sink.reject(new SwitchboardError('SB_ERR_CALL_CANCELLED'));
        }
      },
    };
  }

  private track(
    request: CallRequest,
    sink: CallSink,
    context: EndpointContext | undefined,
  ): AnvilCall {
    const id = this.pending.allocateId();
    const call = new AnvilCall(this, id, sink, { request, context });
    this.pending.add(id, call);
    return call;
  }

  private post(
    call: AnvilCall,
    { caller }: CallRequest,
    what: { command: string; args: unknown[]; kwargs: Record<string, unknown> },
    type: 'CALL' | 'LAUNCH_BACKGROUND' = 'CALL',
  ): void {
    const id = this.wireId(call.id);
    const trusted = caller.kind === 'app' || caller.keyKind === 'server';
    this.link.post({
      type,
      id,
      'call-stack-id': id,
      ...what,
      // The first entry's type tells the uplink whether its caller is trusted (server code).
      'call-stack': [
        { type: call.context !== undefined ? 'http' : trusted ? 'server_module' : 'client' },
      ],
      client: {
        type: call.context !== undefined ? 'http' : caller.kind,
        ip: call.context?.request.remoteAddress ?? null,
      },
      'app-info': this.link.appInfo,
    });
  }

  /** The wire id of call `id`. */
  private wireId(id: number): string {
    return `${this.link.idPrefix}-${id}`;
  }

  /** The call a wire id names, while it is waiting for its answer. */
  find(wireId: string): AnvilCall | undefined {
    const id = this.localId(wireId);
    return id === undefined ? undefined : this.pending.get(id);
  }

  private localId(wireId: string): number | undefined {
    const { idPrefix } = this.link;
    if (!wireId.startsWith(idPrefix) || wireId[idPrefix.length] !== '-') return undefined;
    const id = Number(wireId.slice(idPrefix.length + 1));
    return Number.isSafeInteger(id) ? id : undefined;
  }

  /**
   * The uplink answered `wireId` (`ok` with the value, else with its error object); a task's
   * answer carries its last `taskState` (beside the response, or in the error object).
   */
  answered(wireId: string, ok: boolean, value: unknown, taskState?: unknown): void {
    if (this.tasks.answered(wireId, ok, value)) return;
    const id = this.localId(wireId);
    if (id === undefined) return;
    const finalState = ok ? taskState : (value as { taskState?: unknown } | null)?.taskState;
    if (this.pending.get(id)?.task !== undefined) this.tasks.ended(wireId, finalState);
    this.settle(id, ok, ok ? value : fromAnvilError(value));
  }

  /**
   * The call's origin withdrew it: settled as cancelled, its late answer dropped. A task is
   * also sent KILL_TASK (Anvil's library only logs that it cannot kill: the function runs on).
   */
  cancel(call: AnvilCall): void {
    if (call.task !== undefined && this.pending.get(call.id) === call)
      this.tasks.kill(this.wireId(call.id));
    this.settle(call.id, false, new SwitchboardError('SB_ERR_CALL_CANCELLED'));
  }

  /** Settles call `id` once; a late outcome (after timeout or cancel) is dropped. */
  settle(id: number, ok: boolean, outcome: unknown): void {
    const call = this.pending.take(id);
    if (call === undefined) return;
    this.settleCall(call, ok, outcome);
    this.link.settled();
  }

  private settleCall(call: AnvilCall, ok: boolean, outcome: unknown): void {
    if (!ok) {
      call.sink.reject(notFoundFor(call, outcome as SwitchboardError));
      return;
    }
    if (call.context === undefined) {
      call.sink.resolve(outcome);
      return;
    }
    let response;
    try {
      response = endpointAnswer(outcome);
    } catch (error) {
      call.sink.reject(error as SwitchboardError);
      return;
    }
    // Cookie, session and sign-in changes made through anvil.private calls during the request.
    const effects = call.context.request.effects();
    if (effects !== undefined) response.effects = effects;
    call.sink.resolve(response);
  }

  /** The connection is gone: every call waiting fails with `error`. */
  failAll(error: SwitchboardError): void {
    this.closedWith = error;
    this.tasks.stopAll();
    for (const [, call] of this.pending.drain()) call.sink.reject(error);
    this.pending.dispose();
  }
}

/** Anvil's "no such function" is Switchboard's: 404 for an HTTP request. */
function notFoundFor(call: AnvilCall, error: SwitchboardError): SwitchboardError {
  if (error.remoteType !== 'anvil.server.NoServerFunctionError') return error;
  return new SwitchboardError(
    call.context === undefined ? 'SB_ERR_NO_SUCH_FUNCTION' : 'SB_ERR_HTTP_NOT_FOUND',
    error.message,
  );
}
