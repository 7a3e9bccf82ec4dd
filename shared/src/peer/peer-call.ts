import type { PendingEntry } from '../calls/pending-calls.ts';
import type { SwitchboardError } from '../errors/switchboard-error.ts';
import type { StreamedValue } from '../streams/streamed-value.ts';

/** A call (or register, unregister, HTTP request) this side sent, awaiting the peer's answer. */
export interface PeerCall extends PendingEntry {
  /** On the wire already: withdrawing it tells the peer (`cancel`). */
  readonly sent: boolean;
  /**
   * A result above one frame is decoded here before the call settles; otherwise the call
   * settles with the `StreamedValue` at once, to be forwarded as it arrives.
   */
  readonly decodesLargeAnswer: boolean;
  /** The stream carrying its args or request body, stopped if the call is withdrawn. */
  readonly outgoingStream?: number | undefined;
  /** Its answer above one frame, being collected (discarded if the call is withdrawn). */
  answer?: StreamedValue | undefined;
  resolve(value: unknown): void;
  reject(error: SwitchboardError): void;
}
