/**
 * Where the stream machinery sends its frames: the connection's protocol engine (an object with
 * a method rather than a closure, as every idle connection holds one for its whole life).
 */
export interface FrameOut<Frame> {
  send(frame: Frame): void;
}
