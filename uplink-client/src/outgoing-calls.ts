import { performance } from 'node:perf_hooks';
import {
  SwitchboardError,
  isFunctionName,
  outgoingRequestId,
  toSwitchboardError,
  type CallFrame,
  type EndpointRegistration,
  type FunctionRegistration,
  type PeerCall,
  type PeerEngine,
  type StreamedValue,
  type UplinkToServerFrame,
} from '@switchboard/shared';

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

/** What a `register` request registers: forgotten if the server cannot even decode it. */
export interface Registers {
  functions: FunctionRegistration[];
  endpoints: EndpointRegistration[];
}

/** A request of ours awaiting the server's answer; `frame` is built when it is (re)sent. */
export class Outgoing implements PeerCall {
  sent = false;
  readonly decodesLargeAnswer = true;
  /** Its result above one frame, being collected while the call waits for it. */
  answer: StreamedValue | undefined;
  registers: Registers | undefined;
  constructor(
    readonly frame: (timeoutMs: number) => UplinkToServerFrame,
    readonly deadlineAt: number,
    readonly resolve: (value: unknown) => void,
    readonly reject: (error: SwitchboardError) => void,
  ) {}
}

/** Where requests go: the connection of the moment, once welcomed. */
export interface OutgoingLink {
  /** Welcomed: requests are sent now; otherwise they wait for the next welcome. */
  ready(): boolean;
  send(frame: UplinkToServerFrame): void;
}

/**
 * The requests this uplink makes of the server (calls, registrations), across connections:
 * sent at once when connected, else at the next welcome within their own deadline; those sent
 * on a connection that is lost fail with SB_ERR_CONNECTION_LOST. Their answers, deadlines and
 * cancellation are the peer engine's.
 */
export class OutgoingCalls {
  constructor(
    private readonly peer: PeerEngine<UplinkToServerFrame, Outgoing>,
    private readonly link: OutgoingLink,
  ) {}

  /** Calls `name` on the server; the promise settles with its answer. */
  call(name: string, args: unknown[], timeoutMs: number, options: CallOptions): Promise<unknown> {
    if (!isFunctionName(name)) {
      return Promise.reject(
        new SwitchboardError(
          'SB_ERR_NAME_INVALID',
          `Invalid function name ${JSON.stringify(name)}`,
        ),
      );
    }
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
    const onAbort = () => this.peer.withdraw(promise.id, cancelled());
    signal.addEventListener('abort', onAbort, { once: true });
    return promise.promise.finally(() => signal.removeEventListener('abort', onAbort));
  }

  /** Sends the request `frame(id, remaining timeoutMs)` now, or at the next welcome. */
  request(
    frame: (id: number, timeoutMs: number) => UplinkToServerFrame,
    timeoutMs: number,
    registers?: Registers,
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
      if (this.link.ready()) this.transmit(id, call);
    });
    return { id, promise };
  }

  /** A new connection is welcomed: what waited for it goes out. */
  sendWaiting(): void {
    for (const [id, call] of this.peer.calls.snapshot()) if (!call.sent) this.transmit(id, call);
  }

  /**
   * The connection is lost: requests sent on it fail (the server cancelled them); those not yet
   * sent wait for the next connection. After a protocol error, a registration that was
   * unanswered could not be decoded by the server (one older or stricter than this client):
   * sending it again after every reconnect would loop forever, so it fails with that error and
   * is handed to `forget`.
   */
  connectionLost(error: SwitchboardError, forget: (registers: Registers) => void): void {
    const undecodable = error.code === 'SB_ERR_PROTO_BAD_FRAME';
    for (const [id, call] of this.peer.calls.snapshot()) {
      if (!call.sent || this.peer.calls.take(id) === undefined) continue;
      if (undecodable && call.registers !== undefined) {
        forget(call.registers);
        call.reject(error);
      } else {
        call.reject(
          new SwitchboardError(
            'SB_ERR_CONNECTION_LOST',
            `Connection lost before the answer: ${error.message}`,
          ),
        );
      }
    }
  }

  private transmit(id: number, call: Outgoing): void {
    const remaining = Math.max(1, Math.ceil(call.deadlineAt - performance.now()));
    try {
      this.link.send(call.frame(remaining));
      call.sent = true;
    } catch (error) {
      this.peer.calls.take(id);
      call.reject(toSwitchboardError(error));
    }
  }
}

export function cancelled(): SwitchboardError {
  return new SwitchboardError('SB_ERR_CALL_CANCELLED');
}
