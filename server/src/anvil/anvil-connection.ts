import type { RawData, WebSocket } from 'ws';
import {
  CLOSE_CODES,
  SwitchboardError,
  closeReason,
  toSwitchboardError,
  type CallerInfo,
  type ErrorCode,
} from '@switchboard/shared';
import type { KeyRecord } from '../store/key-store.ts';
import { UplinkSocket, type ConnectionDeps, type Opening } from '../hub/uplink-socket.ts';
import type { CallHandle, CallRequest, CallSink } from '../hub/provider.ts';
import {
  budgetFor,
  limitReceiver,
  uplinkCaller,
  type ConnectionBudget,
} from '../hub/uplink-admission.ts';
import type { AnvilFrame, KeyFrame } from './anvil-frames.ts';
import { AnvilWire } from './anvil-wire.ts';
import { registerAnvilName } from './anvil-names.ts';
import { AnvilOutbound } from './anvil-outbound.ts';
import { AnvilInbound } from './anvil-inbound.ts';
import { anvilError } from './anvil-values.ts';

/** Oldest protocol version of Anvil's uplink library served (the real server's bound). */
const MIN_ANVIL_VERSION = 5;
/** Longest print output from an uplink kept in one log line. */
const MAX_OUTPUT_LOG = 2000;

/**
 * One uplink speaking Anvil's uplink protocol (JSON text messages, media in binary chunks; see
 * docs/anvil.md): authenticated by its key message, its REGISTERs mapped into the same catalog
 * as native uplinks', and a provider like any other. Calls it makes go through the dispatcher.
 */
export class AnvilConnection extends UplinkSocket {
  readonly dialect = 'anvil';
  /** Anvil uplinks have no name of their own. */
  readonly name = null;
  /** Sent with every auth reply and CALL; scripts read it as `anvil.app`. */
  readonly appInfo: Record<string, unknown>;

  private budget: ConnectionBudget;
  private callerInfo: CallerInfo = { kind: 'uplink' };
  /** Functions registered with `@anvil.server.callable`, and with `@background_task`. */
  private readonly callables = new Set<string>();
  private readonly backgroundTasks = new Set<string>();
  private readonly wire: AnvilWire;
  private readonly outbound: AnvilOutbound;
  private readonly inbound: AnvilInbound;
  private drainStarted = false;
  private drainTimer: NodeJS.Timeout | undefined;
  private goingAway = false;

  constructor(ws: WebSocket, deps: ConnectionDeps, opening: Opening) {
    super(ws, deps, opening);
    this.budget = budgetFor('client', deps.options); // until the key says otherwise
    this.appInfo = {
      id: '',
      branch: null,
      environment: { description: 'Switchboard', tags: [] },
    };
    this.wire = new AnvilWire(ws, deps.traffic, () => this.budget.maxMessageBytes);
    this.outbound = new AnvilOutbound({
      idPrefix: this.providerId,
      post: (message) => this.post(message),
      settled: () => this.closeIfDrained(),
      appInfo: this.appInfo,
      log: deps.log,
      served: (name) => ({
        callable: this.callables.has(name),
        task: this.backgroundTasks.has(name),
      }),
    });
    this.inbound = new AnvilInbound({
      dispatcher: deps.dispatcher,
      privateDeps: deps.anvil,
      remoteAddress: this.remoteAddress,
      caller: () => this.callerInfo,
      context: (callStackId) => {
        const call = callStackId === undefined ? undefined : this.outbound.find(callStackId);
        return { context: call?.context, requestId: call?.requestId };
      },
      refusesNewWork: () => this.goingAway && this.outbound.size === 0,
      post: (message) => this.post(message),
    });
  }

  get inFlight(): number {
    return this.outbound.size;
  }

  /** Out of rotation: takes no new calls, closes once those in flight are answered. */
  get draining(): boolean {
    return this.drainStarted;
  }

  get isIdle(): boolean {
    return this.outbound.size === 0 && this.inbound.size === 0 && this.wire.waiting === 0;
  }

  protected serve(request: CallRequest, sink: CallSink): CallHandle {
    return this.outbound.start(request, sink);
  }

  // -------------------------------------------------------------------------------------------
  // The message loop.

  received(data: RawData, isBinary: boolean): void {
    if (this.state === 'closed') return;
    this.heard();
    const bytes = data as Buffer;
    const size = Buffer.isBuffer(bytes) ? bytes.byteLength : 0;
    if (!Buffer.isBuffer(bytes) || size > this.budget.maxFrameBytes) {
      this.fail(
        'SB_ERR_PROTO_FRAME_TOO_LARGE',
        CLOSE_CODES.MESSAGE_TOO_BIG,
        `message of ${size} bytes exceeds maxFrameBytes ${this.budget.maxFrameBytes}`,
      );
      return;
    }
    try {
      const frame = this.wire.read(bytes, isBinary, this.budget.decodeLimits);
      if (frame !== undefined) this.frame(frame);
    } catch (error) {
      const coded = toSwitchboardError(error, 'SB_ERR_PROTO_BAD_FRAME');
      const closeCode =
        coded.code === 'SB_ERR_PROTO_FRAME_TOO_LARGE'
          ? CLOSE_CODES.MESSAGE_TOO_BIG
          : CLOSE_CODES.PROTOCOL_ERROR;
      if (this.state === 'authenticating')
        this.refuseUnauthenticated(coded.code, closeCode, coded.message);
      else this.fail(coded.code, closeCode, coded.message);
    }
  }

  private frame(frame: AnvilFrame): void {
    if (this.state === 'authenticating') {
      if (frame.kind === 'key') this.authenticate(frame);
      else
        this.refuseUnauthenticated(
          'SB_ERR_AUTH_NOT_AUTHENTICATED',
          CLOSE_CODES.AUTH_FAILED,
          'The first message must be {"key": …, "v": …}',
        );
      return;
    }
    switch (frame.kind) {
      case 'key':
        throw bad('the key was already received');
      case 'register':
        this.register(frame.name);
        return;
      case 'register-backend':
        this.fail(
          'SB_ERR_ANVIL_UNSUPPORTED',
          CLOSE_CODES.PROTOCOL_ERROR,
          'Live-object backends cannot be registered on Switchboard',
        );
        return;
      case 'call': {
        if (this.inbound.has(frame.id)) throw bad(`call id ${frame.id} is already in use`);
        const message = { args: frame.args, kwargs: frame.kwargs };
        this.wire.whole(
          frame,
          message,
          () => this.inbound.accept({ ...frame, ...message }),
          (error) => this.post({ id: frame.id, error: anvilError(error, false) }),
        );
        return;
      }
      case 'reply': {
        const field = frame.ok ? 'response' : 'error';
        // Descriptor paths start at the message's own field.
        const rooted: Record<string, unknown> = { [field]: frame.value };
        if (frame.taskState !== undefined) rooted.taskState = frame.taskState;
        this.wire.whole(
          frame,
          rooted,
          () => this.outbound.answered(frame.id, frame.ok, rooted[field], rooted.taskState),
          (error) => this.outbound.answered(frame.id, false, anvilError(error, false)),
        );
        return;
      }
      case 'chunk-header':
        this.wire.chunkHeader(frame);
        return;
      case 'media-error':
        this.wire.mediaError(frame);
        return;
      case 'output':
        this.deps.log.info(
          { uplink: this.providerId, id: frame.id, output: frame.output.slice(0, MAX_OUTPUT_LOG) },
          'anvil uplink output',
        );
        return;
      case 'ignored':
        this.deps.log.debug({ uplink: this.providerId, what: frame.what }, 'anvil message ignored');
        return;
      default: {
        const unreachable: never = frame;
        throw new Error(`unhandled frame ${String(unreachable)}`);
      }
    }
  }

  private authenticate(frame: KeyFrame): void {
    if (frame.v < MIN_ANVIL_VERSION) {
      this.refuseUnauthenticated(
        'SB_ERR_PROTO_VERSION',
        CLOSE_CODES.PROTOCOL_ERROR,
        "You are using an outdated version of the uplink library. Please use 'pip install --upgrade anvil-uplink' to get a new one.",
      );
      return;
    }
    let key: KeyRecord;
    try {
      key = this.deps.keyThrottle.verify(this.deps.keys, frame.key, this.remoteAddress);
    } catch (error) {
      const coded = toSwitchboardError(error);
      // Anvil's own words for a wrong key, which scripts and people already recognise.
      const message = coded.code === 'SB_ERR_AUTH_BAD_KEY' ? 'Incorrect uplink key' : coded.message;
      this.refuseUnauthenticated(coded.code, CLOSE_CODES.AUTH_FAILED, message);
      return;
    }
    this.authenticated(key);
    this.budget = budgetFor(key.kind, this.deps.options);
    if (key.kind === 'client') limitReceiver(this.ws, this.budget.maxFrameBytes);
    this.callerInfo = uplinkCaller(key, this.providerId);
    this.postRaw({
      auth: 'OK',
      priv: key.kind === 'server' ? 'uplink' : 'client',
      'app-info': this.appInfo,
    });
    this.deps.onOpen(this);
  }

  /** One REGISTER: a function or an endpoint; what cannot be served is said on the uplink's console. */
  private register(name: string): void {
    if (this.key?.kind !== 'server') {
      this.fail(
        'SB_ERR_PERMISSION_DENIED',
        CLOSE_CODES.PROTOCOL_ERROR,
        'Cannot register @anvil.server.callable functions from an unprivileged (client) uplink.',
      );
      return;
    }
    try {
      if (this.draining)
        throw new SwitchboardError(
          'SB_ERR_UPLINK_DRAINED',
          'This uplink is draining and may not register more',
        );
      const registered = registerAnvilName(name, this.registrations, this.key);
      if (registered.kind === 'function') this.callables.add(registered.name);
      if (registered.kind === 'task') this.backgroundTasks.add(registered.name);
    } catch (error) {
      const coded = toSwitchboardError(error);
      this.deps.log.warn(
        { uplink: this.providerId, name, code: coded.code, reason: coded.message },
        'anvil registration refused',
      );
      // Printed by the Anvil library as "Anvil server output: …"; the rest keeps working.
      this.postRaw({
        output: `Switchboard cannot serve ${JSON.stringify(name)}: ${coded.message} (${coded.code})`,
      });
    }
  }

  // -------------------------------------------------------------------------------------------
  // Drain and shutdown.

  /**
   * Out of rotation at once; closes when what is in flight is answered, or at `timeoutMs` (what
   * is left then fails with SB_ERR_DRAIN_TIMEOUT). The dialect has no way to tell the uplink to
   * stay away: Anvil's library reconnects after any close.
   */
  drain(reason: 'requested' | 'admin', timeoutMs: number): boolean {
    if (this.state !== 'open') return false;
    if (this.drainStarted) return true;
    this.drainStarted = true;
    this.registrations.withdraw();
    this.deps.log.info({ uplink: this.providerId, reason, timeoutMs }, 'draining uplink');
    this.drainTimer = setTimeout(() => {
      this.closeError = new SwitchboardError('SB_ERR_DRAIN_TIMEOUT');
      this.close(CLOSE_CODES.DRAINED, closeReason('SB_ERR_DRAIN_TIMEOUT', 'drain deadline'));
    }, timeoutMs);
    this.drainTimer.unref();
    this.closeIfDrained();
    return true;
  }

  private closeIfDrained(): void {
    if (this.draining && this.outbound.size === 0)
      this.close(CLOSE_CODES.DRAINED, closeReason('SB_ERR_UPLINK_DRAINED', 'drained'));
  }

  goAway(_graceMs: number): void {
    this.goingAway = true;
  }

  // -------------------------------------------------------------------------------------------
  // Sending and closing.

  /** Sends a message (values may hold media, dates, …) unless the connection is closed. */
  private post(message: Record<string, unknown>): void {
    if (this.state !== 'closed') this.wire.post(message);
  }

  private postRaw(json: Record<string, unknown>): void {
    if (this.state !== 'closed') this.wire.postRaw(json);
  }

  /** Anvil's way to say why: `{"error": …}` (the library logs it), then the close. */
  fail(code: ErrorCode, closeCode: number, message?: string): void {
    if (this.state === 'closed') return;
    const error = new SwitchboardError(code, message);
    this.deps.log.info(
      { uplink: this.providerId, code, reason: error.message },
      'closing uplink connection',
    );
    this.postRaw({ error: error.message, code });
    this.close(closeCode, closeReason(code, error.message));
  }

  protected release(error: SwitchboardError): void {
    clearTimeout(this.drainTimer);
    this.wire.failAll(error);
    this.outbound.failAll(error);
    this.inbound.cancelAll();
  }
}

function bad(message: string): SwitchboardError {
  return new SwitchboardError('SB_ERR_PROTO_BAD_FRAME', message);
}
