import { encodeValue } from '../codec/msgpack-codec.ts';
import { encodeFrame, joined } from '../codec/spliced-encoding.ts';
import { SwitchboardError, toSwitchboardError } from '../errors/switchboard-error.ts';
import { PendingCalls } from '../calls/pending-calls.ts';
import type {
  AnyFrame,
  CancelFrame,
  ErrorFrame,
  ResultFrame,
  StreamedPayload,
  StreamFrame,
} from '../protocol/frames.ts';
import { LargeMessages } from '../streams/large-messages.ts';
import { StreamReceiver } from '../streams/stream-receiver.ts';
import { StreamSender } from '../streams/stream-sender.ts';
import { StreamedValue } from '../streams/streamed-value.ts';
import { ValueStream } from '../streams/value-stream.ts';
import { FrameBatcher, type MessageSink } from '../transport/frame-batcher.ts';
import type { PeerCall } from './peer-call.ts';

/** The frames both directions share and both sides handle alike (see `PeerEngine.received`). */
export type SharedFrame = ResultFrame | ErrorFrame | CancelFrame | StreamFrame;

/** What the engine asks of the side it serves: the server's connection, or the uplink client. */
export interface PeerHooks {
  /** A `large` message is complete: decode it with the side's own gate and handle its frames. */
  reassembled(message: Buffer): void;
  /** The peer no longer wants the answer to its call `id`. */
  cancelled(id: number): void;
  /** A connection-level `error` frame (no id): the peer closes right after it. */
  peerError(error: SwitchboardError): void;
  /**
   * The peer refused one of our streams for overrunning its credit: a bug on this side, worth
   * reporting. (Other refusals are the peer's choice, and only stop the stream.)
   */
  streamRefused(error: SwitchboardError): void;
}

/** Budgets of one connection (the server's options, or what the welcome said). */
export interface PeerSettings {
  /** Largest message the peer accepts: frames are batched up to it, larger ones streamed. */
  maxFrameBytes: number;
  /** Credit each stream starts with, both ways. */
  streamWindowBytes: number;
  /** An incoming stream that sends nothing for this long is broken off. */
  streamStallTimeoutMs: number;
  /** Largest message (one or more frames) this side accepts as a stream. */
  maxMessageBytes: number;
}

/**
 * The protocol machinery both ends of an uplink connection share: frames batched per tick and
 * the transport under them, streams both ways with their credit, messages above one frame,
 * the calls this side made and awaits (deadlines, cancellation, large and streamed answers),
 * answers sent back, and settling all of it when the connection ends. The server's connection
 * and the uplink client keep only their own frames (hello, register, drain… on one side;
 * welcome, request, goaway… on the other) and what they do with a call.
 *
 * Transport-free: messages go to whatever `MessageSink` is attached (a WebSocket writer, or an
 * in-memory pipe in tests); while none is, frames are dropped.
 */
export class PeerEngine<Out extends AnyFrame, Call extends PeerCall = PeerCall> {
  /** The calls this side sent and awaits answers for. */
  readonly calls: PendingCalls<Call>;
  /** Streams to the peer: bodies, progressive results, large messages. */
  readonly sender: StreamSender;
  /** Streams from the peer. */
  readonly receiver: StreamReceiver;
  /** Messages above one frame, both ways. */
  readonly large: LargeMessages;
  private readonly batcher: FrameBatcher;
  /** Where the batcher's messages go: the attached transport, if any. */
  private readonly slot = new TransportSlot();

  constructor(
    settings: PeerSettings,
    private readonly hooks: PeerHooks,
  ) {
    this.batcher = new FrameBatcher(this.slot, settings.maxFrameBytes);
    // The engine and its hooks are the parts' owners: no closures per connection.
    this.sender = new StreamSender(this, settings.streamWindowBytes);
    this.receiver = new StreamReceiver(
      this,
      settings.streamWindowBytes,
      settings.streamStallTimeoutMs,
    );
    this.large = new LargeMessages(this.sender, this.receiver, hooks, settings.maxMessageBytes);
    this.calls = new PendingCalls<Call>(this);
  }

  /** A call's deadline passed (PendingCalls tells): it fails SB_ERR_CALL_TIMEOUT. */
  expired(id: number, call: Call): void {
    this.withdrawn(id, call, new SwitchboardError('SB_ERR_CALL_TIMEOUT'));
  }

  /** Messages go to `transport` from now on. */
  attach(transport: MessageSink): void {
    this.slot.transport = transport;
  }

  /** No transport any more: frames queued and not yet written are dropped. */
  detach(): void {
    this.batcher.clear();
    this.slot.transport = undefined;
  }

  get attached(): boolean {
    return this.slot.transport !== undefined;
  }

  /** The credit each new stream gets, both ways (from the welcome). */
  setStreamWindow(bytes: number): void {
    this.sender.setWindow(bytes);
    this.receiver.setWindow(bytes);
  }

  /** The peer's largest message (from hello or welcome): batches and chunks stay below it. */
  setPeerMaxFrameBytes(bytes: number): void {
    this.batcher.setMaxBytes(bytes);
    this.sender.setMaxFrameBytes(bytes);
  }

  /** Writes what is queued now rather than at the end of this tick (before a close). */
  flush(): void {
    this.batcher.flush();
  }

  /** Nothing under way either way: no call awaiting its answer, no stream open. */
  get quiet(): boolean {
    return this.calls.size === 0 && this.sender.size === 0 && this.receiver.size === 0;
  }

  // -------------------------------------------------------------------------------------------
  // Sending.

  /**
   * Queues a frame; one above the peer's frame limit has its payload streamed (a call's args, a
   * result's value) or goes as a `large` message. Returns what was queued. Throws
   * SB_ERR_PROTO_FRAME_TOO_LARGE or SB_ERR_VALUE_NOT_SERIALIZABLE, queueing nothing.
   */
  push(frame: Out): Out {
    const encoded = encodeFrame(frame);
    if (this.batcher.fits(encoded)) {
      this.batcher.push(encoded);
      return frame;
    }
    const sent = this.large.oversized(frame as never, joined(encoded)) as Out;
    this.batcher.push(encodeValue(sent));
    return sent;
  }

  /** Queues a frame of the shared machinery (credit, abort, chunk, end, cancel), if attached. */
  send(frame: StreamFrame | CancelFrame): void {
    if (this.slot.transport !== undefined) this.push(frame as Out);
  }

  /**
   * Answers the peer's call `id` with `value`: progressive results (`ValueStream`) go as a
   * stream of ours, a value still arriving from elsewhere (`StreamedValue`) is forwarded as it
   * comes, anything else as the result's value.
   */
  answer(id: number, value: unknown): SwitchboardError | undefined {
    if (this.slot.transport === undefined) {
      dropAnswer(value);
      return undefined;
    }
    if (value instanceof ValueStream)
      return this.answerFrame({
        type: 'result',
        id,
        stream: this.sender.start(value.raw(), undefined, true),
      });
    if (value instanceof StreamedValue)
      return this.answerFrame({ type: 'result', id, payload: this.large.forward(value) });
    return this.answerFrame({ type: 'result', id, value });
  }

  /**
   * Sends an answer frame. One that cannot be encoded, or is too large for the peer, becomes a
   * bare coded error for the same id (no data, no stack), so the caller is still answered, and a
   * stream the answer announced is stopped. Returns that error, for the side to report.
   */
  answerFrame(frame: ResultFrame | (ErrorFrame & { id: number })): SwitchboardError | undefined {
    if (this.slot.transport === undefined) return undefined;
    try {
      this.push(frame as Out);
      return undefined;
    } catch (error) {
      const stream =
        frame.type === 'result'
          ? (frame.stream ??
            frame.payload?.stream ??
            (frame.value as { stream?: unknown } | null | undefined)?.stream)
          : undefined;
      if (typeof stream === 'number') this.sender.abort(stream);
      const coded = toSwitchboardError(error, 'SB_ERR_VALUE_NOT_SERIALIZABLE');
      this.push({ type: 'error', id: frame.id, error: coded.toWire(false) } as Out);
      return coded;
    }
  }

  // -------------------------------------------------------------------------------------------
  // Calls this side makes.

  /** Starts awaiting the answer to call `id` (from `calls.allocateId()`), already sent. */
  track(id: number, call: Call): void {
    this.calls.add(id, call);
  }

  /** Withdraws call `id` before its answer: the peer is told, the call settles with `error`. */
  withdraw(id: number, error: SwitchboardError): boolean {
    const call = this.calls.take(id);
    if (call === undefined) return false;
    this.withdrawn(id, call, error);
    return true;
  }

  private withdrawn(id: number, call: Call, error: SwitchboardError): void {
    // What it still sends or receives is not wanted.
    if (call.outgoingStream !== undefined) this.sender.abort(call.outgoingStream);
    call.answer?.discard();
    if (call.sent) this.send({ type: 'cancel', id });
    call.reject(error);
  }

  /** Progressive results arriving on stream `id`. */
  private valueStream(id: number): ValueStream {
    return ValueStream.fromChunks(this.receiver.open(id).readable());
  }

  // -------------------------------------------------------------------------------------------
  // Receiving.

  /** Handles a frame both sides treat alike; the side's own switch hands these over. */
  received(frame: SharedFrame): void {
    switch (frame.type) {
      case 'result':
        this.result(frame);
        return;
      case 'error':
        if (frame.id === undefined) this.hooks.peerError(SwitchboardError.fromWire(frame.error));
        else this.calls.take(frame.id)?.reject(SwitchboardError.fromWire(frame.error));
        return;
      case 'cancel':
        this.hooks.cancelled(frame.id);
        return;
      case 'chunk':
      case 'end':
        this.receiver.received(frame);
        return;
      case 'credit':
        this.sender.credit(frame.stream, frame.bytes);
        return;
      case 'abort':
        this.sender.abort(frame.stream);
        if (frame.error?.code === 'SB_ERR_STREAM_CREDIT_EXCEEDED')
          this.hooks.streamRefused(SwitchboardError.fromWire(frame.error));
        return;
      case 'large':
        this.large.received(frame);
        return;
      default: {
        const unreachable: never = frame;
        throw new Error(`unhandled frame ${String(unreachable)}`);
      }
    }
  }

  private result(frame: ResultFrame): void {
    if (frame.payload !== undefined) {
      this.resultPayload(frame.id, frame.payload);
      return;
    }
    // No call: a late answer to one that timed out or was cancelled.
    const call = this.calls.take(frame.id);
    if (frame.stream === undefined) call?.resolve(frame.value);
    else if (call === undefined) this.send({ type: 'abort', stream: frame.stream });
    else call.resolve(this.valueStream(frame.stream));
  }

  /**
   * A result too large for one frame, arriving as a stream: handed on as it is, or decoded here
   * first (the call staying pending meanwhile, its deadline still counting).
   */
  private resultPayload(id: number, payload: StreamedPayload): void {
    const value = this.large.payload(payload);
    const call = this.calls.get(id);
    if (call === undefined) {
      value.discard(); // a late answer: nobody wants it
      return;
    }
    if (!call.decodesLargeAnswer) {
      this.calls.take(id);
      call.resolve(value);
      return;
    }
    call.answer = value;
    value.decode().then(
      (decoded) => this.calls.take(id)?.resolve(decoded),
      (error: unknown) => this.calls.take(id)?.reject(toSwitchboardError(error)),
    );
  }

  // -------------------------------------------------------------------------------------------
  // The end of a connection.

  /**
   * The connection is gone: the transport goes, streams both ways stop (incoming ones fail
   * with `streamError`). Calls awaiting answers are the side's to settle (`failCalls`).
   */
  disconnect(streamError: SwitchboardError): void {
    this.detach();
    this.sender.abortAll();
    this.receiver.failAll(streamError);
  }

  /** Every call awaiting an answer fails with `error`; the deadline timer stops. */
  failCalls(error: SwitchboardError): void {
    this.calls.dispose();
    for (const [, call] of this.calls.drain()) call.reject(error);
  }
}

/**
 * An answer nobody will receive: a value still arriving from elsewhere is dropped, a producer of
 * progressive results stopped.
 */
export function dropAnswer(value: unknown): void {
  if (value instanceof StreamedValue) value.discard();
  else if (value instanceof ValueStream) void value[Symbol.asyncIterator]().return?.();
}

/** The engine's end of its transport (an object, not closures: one per idle uplink). */
class TransportSlot implements MessageSink {
  transport: MessageSink | undefined;

  send(message: Buffer): void {
    this.transport?.send(message);
  }

  sendParts(parts: readonly Buffer[], byteLength: number): void {
    this.transport?.sendParts(parts, byteLength);
  }
}
