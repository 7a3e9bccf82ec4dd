import {
  DEFAULT_STREAM_WINDOW_BYTES,
  PeerEngine,
  SwitchboardError,
  TASK_FUNCTIONS,
  decodeServerMessage,
  toSwitchboardError,
  type DrainingFrame,
  type ErrorFrame,
  type GoAwayFrame,
  type ResultFrame,
  type ServerToUplinkFrame,
  type UplinkToServerFrame,
  type WelcomeFrame,
} from '@switchboard/shared';
import { Connection } from './connection.ts';
import type { Emitter, UplinkEvents } from './events.ts';
import { IncomingCalls } from './incoming-calls.ts';
import type { ResolvedConnectOptions } from './options.ts';
import { OutgoingCalls, cancelled, type Outgoing } from './outgoing-calls.ts';
import type { Served } from './served.ts';

/** A request body that could arrive but sends nothing for this long is broken off: 60 s. */
const BODY_STALL_TIMEOUT_MS = 60_000;

/** Until the first welcome says otherwise, only the hello is sent: this is plenty. */
const INITIAL_MAX_FRAME_BYTES = 1024 * 1024;

/** What a session needs from the uplink it belongs to. */
export interface SessionHost {
  readonly options: ResolvedConnectOptions;
  readonly served: Served;
  readonly events: Emitter<UplinkEvents>;
  welcomed(session: Session, frame: WelcomeFrame): void;
  /** `draining` or `goaway` arrived on this session. */
  notice(session: Session, frame: DrainingFrame | GoAwayFrame): void;
  /**
   * Its connection ended; `permanent` when retrying cannot help, `idle` when nothing was in
   * flight on it.
   */
  lost(session: Session, error: SwitchboardError, permanent: boolean, idle: boolean): void;
}

/**
 * The uplink's protocol state toward one server: the connection of the moment, the protocol
 * engine (batching, streams both ways, large messages, our calls awaiting answers), the calls the
 * server sent us, and our requests. It outlives dropped connections to the same place (calls not
 * yet sent wait in it for the next one); when a server says `goaway`, the uplink opens a second
 * session elsewhere and retires this one once the new one has registered (see Uplink).
 */
export class Session {
  readonly peer: PeerEngine<UplinkToServerFrame, Outgoing>;
  /** Calls and registrations we make: sent now, or at the next welcome. */
  readonly outgoing: OutgoingCalls;
  readonly incoming: IncomingCalls;
  connection: Connection | undefined;
  welcome: WelcomeFrame | undefined;

  constructor(private readonly host: SessionHost) {
    const { options, served, events } = host;
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
        streamRefused: (error) => events.emit('error', error),
      },
    );
    this.outgoing = new OutgoingCalls(this.peer, {
      ready: () => this.welcome !== undefined,
      send: (frame) => this.connection?.send(frame),
    });
    this.incoming = new IncomingCalls(
      served.functions,
      served.handlers,
      {
        peer: this.peer,
        reply: (frame) => this.answer(frame),
        setTaskState: (task, state) =>
          this.outgoing
            .call(TASK_FUNCTIONS.setState, [task, state], options.callTimeoutMs, {})
            .then(() => undefined),
      },
      options.maxConcurrentCalls,
    );
    if (options.logger !== undefined) this.incoming.logger = options.logger;
  }

  /** Opens a connection to `wsUrl` (the previous one, if any, has ended). */
  open(wsUrl: string): void {
    this.connection = new Connection(
      this.host.options,
      wsUrl,
      {
        welcome: (frame) => this.welcomed(frame),
        frame: (frame) => this.received(frame),
        closed: (error, permanent) => this.lost(error, permanent),
      },
      this.peer,
    );
  }

  /** Nothing in flight either way: no call to run or answer, no stream open. */
  isIdle(): boolean {
    return this.incoming.size === 0 && this.peer.quiet;
  }

  send(frame: UplinkToServerFrame): void {
    this.connection?.send(frame);
  }

  /** Stops everything running in it with `error` (handlers' signals fire, our calls fail). */
  cutOff(error: SwitchboardError): void {
    this.incoming.cancelAll(error);
    this.peer.sender.abortAll();
    this.peer.receiver.failAll(error);
    this.peer.failCalls(error);
  }

  /** The end of the session: its calls fail with `error`, its handlers see abort. */
  end(error: SwitchboardError): void {
    this.connection?.close();
    this.peer.failCalls(error);
    this.peer.disconnect(error);
    this.incoming.cancelAll(error);
  }

  private welcomed(frame: WelcomeFrame): void {
    this.welcome = frame;
    // One window both ways: the server sends to us under the same credit it grants us.
    this.peer.setStreamWindow(frame.limits.streamWindowBytes);
    this.peer.setPeerMaxFrameBytes(frame.limits.maxFrameBytes);
    if (frame.limits.maxMessageBytes !== undefined)
      this.peer.large.setPeerLimit(frame.limits.maxMessageBytes);
    this.host.welcomed(this, frame);
    this.outgoing.sendWaiting();
  }

  /** A large message is complete: its frames are handled as if they had arrived whole. */
  private reassembled(message: Buffer): void {
    let frames: ServerToUplinkFrame[];
    try {
      frames = decodeServerMessage(message);
    } catch (error) {
      this.host.events.emit('error', toSwitchboardError(error, 'SB_ERR_PROTO_BAD_FRAME'));
      return;
    }
    for (const frame of frames) this.received(frame);
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
      case 'draining':
      case 'goaway':
        this.host.notice(this, frame);
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
    const lost = new SwitchboardError('SB_ERR_CONNECTION_LOST', error.message);
    this.peer.disconnect(lost);
    this.incoming.cancelAll(lost);
    this.outgoing.connectionLost(error, (registers) => this.host.served.forget(registers));
    this.host.lost(this, error, permanent, idle);
  }

  /** An answer that cannot be sent reaches the caller as a bare coded error, and is reported. */
  private answer(frame: ResultFrame | (ErrorFrame & { id: number })): void {
    if (this.welcome === undefined) return;
    const failed = this.peer.answerFrame(frame);
    if (failed !== undefined) this.host.events.emit('error', failed);
  }
}
