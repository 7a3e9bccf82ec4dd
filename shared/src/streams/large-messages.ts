import { decodeValue, encodeValue } from '../codec/msgpack-codec.ts';
import { DEFAULT_DECODE_LIMITS, type DecodeLimits } from '../codec/decode-limits.ts';
import { SwitchboardError } from '../errors/switchboard-error.ts';
import type {
  AnyFrame,
  LargeFrame,
  ServerToUplinkFrame,
  StreamedPayload,
  UplinkToServerFrame,
} from '../protocol/frames.ts';
import type { IncomingStream, StreamReceiver } from './stream-receiver.ts';
import type { StreamSender } from './stream-sender.ts';
import { StreamedValue } from './streamed-value.ts';

/**
 * Largest message (one or more frames) sent as a stream: 256 MiB. It is also what one
 * connection may have being reassembled at once, in all.
 */
export const DEFAULT_MAX_MESSAGE_BYTES = 256 * 1024 * 1024;

/**
 * Messages larger than the peer's frame limit. A call's args or a result's value (a big `Media`,
 * a large byte array) go as a streamed payload after a small frame that keeps its place in
 * order, so the server can forward them between uplinks without holding them. Anything else
 * (an HTTP request or answer with a big buffered body, a huge registration) goes whole as a
 * `large` frame followed by its bytes. Both use the usual credit flow control: no frame on the
 * wire is ever above the negotiated maximum, and the receiver holds at most `limit` bytes of
 * unfinished messages and payloads it decodes.
 */
export class LargeMessages {
  constructor(
    private readonly sender: StreamSender,
    private readonly receiver: StreamReceiver,
    /** Told each `large` message once it is complete. */
    private readonly owner: { reassembled(message: Buffer): void },
    /** Largest message this side accepts. */
    private limit: number,
  ) {
    this.peerLimit = limit;
  }

  /** Budget of each value decoded here (the codec's defaults until `setLimit` says otherwise). */
  private decodeLimits: DecodeLimits = DEFAULT_DECODE_LIMITS;

  /**
   * Lowers or raises this side's limits: the bytes of unfinished messages, and what one value
   * decoded here may cost (the server's, once it knows the peer's key kind).
   */
  setLimit(bytes: number, decodeLimits: DecodeLimits = DEFAULT_DECODE_LIMITS): void {
    this.limit = bytes;
    this.decodeLimits = decodeLimits;
  }

  /** Largest message the peer accepts (from hello/welcome); larger ones fail at the sender. */
  private peerLimit: number;
  /** Announced bytes of the messages being reassembled now. */
  private reassembling = 0;

  setPeerLimit(bytes: number): void {
    this.peerLimit = bytes;
  }

  /**
   * `frame` encoded to `encoded`, which is above one frame: returns what to send instead (the
   * frame with its payload streamed, or a `large` announcement), having started the stream.
   */
  oversized(frame: UplinkToServerFrame, encoded: Buffer): UplinkToServerFrame;
  oversized(frame: ServerToUplinkFrame, encoded: Buffer): ServerToUplinkFrame;
  oversized(frame: AnyFrame, encoded: Buffer): AnyFrame {
    if (frame.type === 'call') return { ...frame, args: [], payload: this.stream(frame.args) };
    if (frame.type === 'result' && frame.stream === undefined && frame.value !== undefined) {
      const { value, ...head } = frame;
      return { ...head, payload: this.stream(value) };
    }
    const stream = this.sender.start(single(this.checked(Buffer.from(encoded))));
    return { type: 'large', stream, bytes: encoded.byteLength };
  }

  /** A `large` announcement: the message is delivered once its stream is complete. */
  received(frame: LargeFrame): void {
    // On failure the call it carried times out at its caller.
    this.reassemble(this.receiver.open(frame.stream), frame.bytes).done.then(
      (message) => this.owner.reassembled(message),
      () => undefined,
    );
  }

  /**
   * A payload the peer announced, to forward (`relay`) or decode here. Its stream is expected
   * from now on (chunks that arrive before it is used wait, one window at most).
   */
  payload({ stream, bytes }: StreamedPayload): StreamedValue {
    const incoming = this.receiver.open(stream);
    let stop = () => incoming.abort();
    return new StreamedValue(bytes, {
      relay: () => incoming.readable(),
      decode: () => {
        const collecting = this.reassemble(incoming, bytes);
        stop = collecting.stop;
        return collecting.done.then((message) => decodeValue(message, this.decodeLimits));
      },
      discard: () => stop(),
    });
  }

  /** Forwards a payload that is still arriving from elsewhere, chunk by chunk as credit allows. */
  forward(value: StreamedValue): StreamedPayload {
    return { stream: this.sender.start(value.relay()), bytes: value.bytes };
  }

  private stream(value: unknown): StreamedPayload {
    const encoded = this.checked(encodeValue(value));
    return { stream: this.sender.start(single(encoded)), bytes: encoded.byteLength };
  }

  private checked(message: Buffer): Buffer {
    if (message.byteLength > this.peerLimit) {
      throw new SwitchboardError(
        'SB_ERR_PROTO_FRAME_TOO_LARGE',
        `A message of ${message.byteLength} bytes exceeds the peer's limit of ${this.peerLimit} bytes`,
      );
    }
    return message;
  }

  /**
   * Collects `incoming` (`bytes` long), within this side's budget for unfinished messages.
   * `stop()` gives up on it: the sender is told to stop and `done` rejects.
   */
  private reassemble(
    incoming: IncomingStream,
    bytes: number,
  ): { done: Promise<Buffer>; stop: () => void } {
    // One connection may not hold more than `limit` bytes of unfinished messages in all.
    if (this.reassembling + bytes > this.limit) {
      incoming.abort();
      const refused = new SwitchboardError(
        'SB_ERR_PROTO_FRAME_TOO_LARGE',
        `A message of ${bytes} bytes is above what this side accepts (${this.limit} bytes, less messages still arriving)`,
      );
      return { done: Promise.reject(refused), stop: () => undefined };
    }
    this.reassembling += bytes;
    let settle!: (error?: SwitchboardError, message?: Buffer) => void;
    const done = new Promise<Buffer>((resolve, reject) => {
      let settled = false;
      settle = (error, message) => {
        if (settled) return;
        settled = true;
        this.reassembling -= bytes;
        if (error === undefined) resolve(message!);
        else reject(error);
      };
    });
    const parts: Uint8Array[] = [];
    let total = 0;
    const wrongSize = () =>
      new SwitchboardError(
        'SB_ERR_PROTO_BAD_FRAME',
        `stream ${incoming.id} did not carry the ${bytes} bytes it announced`,
      );
    incoming.attach({
      write: (data, flushed) => {
        total += data.byteLength;
        if (total > bytes) {
          const error = wrongSize();
          incoming.abort(error); // fails this target too, which settles with it
          settle(error);
          return;
        }
        parts.push(data);
        flushed(); // held until complete anyway, bounded by the announced size
      },
      end: () => {
        if (total === bytes) settle(undefined, Buffer.concat(parts, total));
        else settle(wrongSize());
      },
      fail: (error) => settle(error),
    });
    const stop = () => {
      incoming.abort();
      settle(new SwitchboardError('SB_ERR_CALL_CANCELLED', 'Nobody wants this value any more'));
    };
    return { done, stop };
  }
}

async function* single(message: Buffer): AsyncGenerator<Buffer> {
  await Promise.resolve();
  yield message;
}
