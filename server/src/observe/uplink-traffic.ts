import type { MessageSink } from '@switchboard/shared';

/** Bytes of WebSocket messages exchanged with all uplinks since start (the frames, not TCP). */
export class UplinkTraffic {
  bytesIn = 0;
  bytesOut = 0;

  /** `sink`, with what is sent through it counted as bytes out. */
  counted(sink: MessageSink): MessageSink {
    return new CountedSink(this, sink);
  }
}

/** A sink that counts (one object per uplink, no closures: idle uplinks cost memory). */
class CountedSink implements MessageSink {
  constructor(
    private readonly traffic: UplinkTraffic,
    private readonly sink: MessageSink,
  ) {}

  send(message: Buffer): void {
    this.traffic.bytesOut += message.byteLength;
    this.sink.send(message);
  }

  sendParts(parts: readonly Buffer[], byteLength: number): void {
    this.traffic.bytesOut += byteLength;
    this.sink.sendParts(parts, byteLength);
  }
}
