/** What the server grants an uplink's connection, sent in `welcome`. */
export interface Limits {
  /** Largest WebSocket message (one or more frames) the sender of this value accepts. */
  maxFrameBytes: number;
  /** Interval at which the server pings; a peer silent for two intervals is dropped. */
  pingIntervalMs: number;
  /** Deadline the server applies to a call that carries none. */
  defaultCallTimeoutMs: number;
  /** Bytes a stream's sender may send before the receiver's first `credit`. */
  streamWindowBytes: number;
  /** Largest message the server reassembles from a `large` stream. */
  maxMessageBytes?: number;
}
