import { performance } from 'node:perf_hooks';
import {
  toSwitchboardError,
  SwitchboardError,
  type CallFrame,
  type LocalHttpRequest,
  type PeerCall,
  type PeerEngine,
  type RequestFrame,
  type ServerToUplinkFrame,
  type StreamedValue,
  type WireHttpRequest,
} from '@switchboard/shared';
import { NOOP_HANDLE, type CallHandle, type CallRequest, type CallSink } from './provider.ts';

/**
 * The calls and HTTP requests a server sends to one uplink (it is their provider): framed, sent
 * through the connection's protocol engine, and tracked there until answered.
 */
export class OutboundCalls {
  constructor(private readonly peer: PeerEngine<ServerToUplinkFrame, OutboundCall>) {}

  /** Sends `request`; a frame that cannot be sent rejects `sink` at once. */
  start(request: CallRequest, sink: CallSink): CallHandle {
    const { peer } = this;
    const id = peer.calls.allocateId();
    const { name: endpoint, http, timeoutMs, caller, requestId } = request;
    const frame: CallFrame | RequestFrame =
      http === undefined
        ? { type: 'call', id, name: request.name, args: request.args, timeoutMs, caller }
        : { type: 'request', id, endpoint, request: this.wireRequest(http), timeoutMs, caller };
    if (requestId !== undefined) frame.requestId = requestId;
    if (request.task !== undefined) {
      if (frame.type === 'call') frame.task = request.task.id;
      if (timeoutMs === Infinity) delete frame.timeoutMs; // no deadline: the field is absent
    }
    // Args still arriving from another uplink are forwarded as they come, never held here.
    if (request.payload !== undefined && frame.type === 'call')
      frame.payload = peer.large.forward(request.payload);
    let stream = frame.type === 'call' ? frame.payload?.stream : frame.request.bodyStream;
    try {
      const sent = peer.push(frame);
      if (sent.type === 'call') stream = sent.payload?.stream; // args above one frame
    } catch (error) {
      if (stream !== undefined) peer.sender.abort(stream);
      sink.reject(toSwitchboardError(error));
      return NOOP_HANDLE;
    }
    const call = new OutboundCall(this, id, sink, performance.now() + request.timeoutMs);
    call.isRequest = http !== undefined;
    call.outgoingStream = stream;
    peer.track(id, call);
    return call;
  }

  cancel(id: number): void {
    this.peer.withdraw(id, new SwitchboardError('SB_ERR_CALL_CANCELLED'));
  }

  /**
   * An HTTP answer announcing a streamed body (`stream: id`) gets the stream itself in its
   * place, for the door to attach to the response.
   */
  withStream(value: unknown): unknown {
    const answer = value as { stream?: unknown } | null;
    if (typeof answer !== 'object' || answer === null || answer.stream === undefined) return value;
    const { receiver } = this.peer;
    if (typeof answer.stream !== 'number' || receiver.has(answer.stream)) return value; // the door refuses it
    return { ...answer, stream: receiver.open(answer.stream) };
  }

  /**
   * A streamed body goes out as a stream of its own, pulled as the uplink grants credit. Body
   * chunks stay as they are: the frame's encoding splices them in (`encodeFrame`).
   */
  private wireRequest(http: LocalHttpRequest): WireHttpRequest {
    if (http.bodySource === undefined) return http; // no copy on the hot path
    const { bodySource, ...wire } = http;
    return { ...wire, bodyStream: this.peer.sender.start(bodySource) };
  }
}

/** A call or HTTP request this server sent to the uplink and awaits an answer for. */
export class OutboundCall implements PeerCall, CallHandle {
  readonly sent = true;
  /** An HTTP request: its answer is decoded here, and may announce a streamed body. */
  isRequest = false;
  /** The stream carrying its request body or its args, while it may still be sent. */
  outgoingStream: number | undefined;
  /** Its answer above one frame, being collected while the call waits for it. */
  answer: StreamedValue | undefined;

  constructor(
    private readonly owner: OutboundCalls,
    readonly id: number,
    readonly sink: CallSink,
    readonly deadlineAt: number,
  ) {}

  get decodesLargeAnswer(): boolean {
    return this.isRequest;
  }

  resolve(value: unknown): void {
    this.sink.resolve(this.isRequest ? this.owner.withStream(value) : value);
  }

  reject(error: SwitchboardError): void {
    this.sink.reject(error);
  }

  cancel(): void {
    this.owner.cancel(this.id);
  }
}
