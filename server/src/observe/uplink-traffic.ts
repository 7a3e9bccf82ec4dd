import type { MessageSink } from '@switchboard/shared';

/** Bytes of WebSocket messages exchanged with all uplinks since start (the frames, not TCP). */
export class UplinkTraffic {
  bytesIn = 0;
  bytesOut = 0;

  /** `sink`, with what is sent through it counted as bytes out. */
  counted(sink: MessageSink): MessageSink {
    return {
      send: (message) => {
        this.bytesOut += message.byteLength;
        sink.send(message);
      },
      sendParts: (parts, byteLength) => {
        this.bytesOut += byteLength;
        sink.sendParts(parts, byteLength);
      },
    };
  }
}
