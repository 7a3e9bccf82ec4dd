import { SwitchboardError } from '../errors/switchboard-error.ts';
import type { LargeFrame } from '../protocol/frames.ts';
import type { StreamReceiver } from './stream-receiver.ts';
import type { StreamSender } from './stream-sender.ts';

/**
 * Largest message (one or more frames) sent as a stream: 256 MiB. It is also what one
 * connection may have being reassembled at once, in all.
 */
export const DEFAULT_MAX_MESSAGE_BYTES = 256 * 1024 * 1024;

/**
 * Messages larger than the peer's frame limit (a big `Media` argument or result, a large byte
 * array): sent as a stream of chunks with the usual credit flow control after a `large` frame
 * announcing it, and reassembled on the other side before they are decoded. No frame on the wire
 * is ever above the negotiated maximum; the receiver holds at most `limit` bytes for one.
 */
export class LargeMessages {
  constructor(
    private readonly sender: StreamSender,
    private readonly receiver: StreamReceiver,
    private readonly deliver: (message: Buffer) => void,
    /** Largest message this side accepts. */
    private readonly limit: number,
  ) {
    this.peerLimit = limit;
  }

  /** Largest message the peer accepts (from hello/welcome); larger ones fail at the sender. */
  private peerLimit: number;
  /** Announced bytes of the messages being reassembled now. */
  private reassembling = 0;

  setPeerLimit(bytes: number): void {
    this.peerLimit = bytes;
  }

  /** Starts sending `message` as a stream; returns the frame that announces it (send it first). */
  send(message: Buffer): LargeFrame {
    if (message.byteLength > this.peerLimit) {
      throw new SwitchboardError(
        'SB_ERR_PROTO_FRAME_TOO_LARGE',
        `A message of ${message.byteLength} bytes exceeds the peer's limit of ${this.peerLimit} bytes`,
      );
    }
    const stream = this.sender.start(single(message));
    return { type: 'large', stream, bytes: message.byteLength };
  }

  received(frame: LargeFrame): void {
    const incoming = this.receiver.open(frame.stream);
    // One connection may not hold more than `limit` bytes of unfinished messages in all.
    if (this.reassembling + frame.bytes > this.limit) {
      incoming.abort();
      return;
    }
    this.reassembling += frame.bytes;
    let released = false;
    const release = () => {
      if (!released) this.reassembling -= frame.bytes;
      released = true;
    };
    const parts: Uint8Array[] = [];
    let total = 0;
    incoming.attach({
      write: (data, flushed) => {
        total += data.byteLength;
        if (total > frame.bytes) {
          release();
          incoming.abort();
          return;
        }
        parts.push(data);
        flushed(); // held until complete anyway, bounded by the announced size
      },
      end: () => {
        release();
        if (total === frame.bytes) this.deliver(Buffer.concat(parts, total));
      },
      fail: release, // the call it carried times out at its caller
    });
  }
}

async function* single(message: Buffer): AsyncGenerator<Buffer> {
  await Promise.resolve();
  yield message;
}
