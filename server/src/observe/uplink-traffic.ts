/** Bytes of WebSocket messages exchanged with all uplinks since start (the frames, not TCP). */
export class UplinkTraffic {
  bytesIn = 0;
  bytesOut = 0;
}
