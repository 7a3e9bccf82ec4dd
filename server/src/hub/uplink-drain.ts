import {
  CLOSE_CODES,
  SwitchboardError,
  type DrainingFrame,
  type GoAwayFrame,
} from '@switchboard/shared';

/**
 * After a drain's deadline the uplink closes by itself and fails what is left; the server waits
 * this much longer before doing it instead (an uplink that ignores `draining`, or is stuck).
 */
const DRAIN_CLOSE_MARGIN_MS = 1_000;

/** What draining needs of the connection (the connection itself, as for InboundLink). */
export interface DrainLink {
  /** The uplink's name for messages. */
  readonly label: string;
  send(frame: DrainingFrame | GoAwayFrame): void;
  /** Out of rotation: its registrations leave the catalog (still listed for the operator). */
  withdraw(): void;
  /** The deadline passed: calls left fail with `error`, the connection closes with `closeCode`. */
  cutOff(error: SwitchboardError, closeCode: number): void;
  /**
   * In a cluster: resolves once another server serves what this uplink serves (see handoff.ts);
   * undefined when not clustered.
   */
  handoff(): Promise<void> | undefined;
}

/**
 * Drain and shutdown of one uplink: out of rotation and told so (`draining`), closed by the
 * server if it has not closed by itself at the deadline; told the server is going away
 * (`goaway`), after which it takes no new work from an uplink with nothing in hand.
 */
export class UplinkDrain {
  private timer: NodeJS.Timeout | undefined;
  /** A drain asked for while moving, waiting for the handoff. */
  private handingOff = false;
  private disposed = false;
  /** The server is shutting down (`goaway` sent). */
  goingAway = false;

  constructor(private readonly link: DrainLink) {}

  /** Out of rotation: takes no new calls, finishes those in flight, then disconnects. */
  get draining(): boolean {
    return this.timer !== undefined;
  }

  /**
   * Starts draining (once): out of rotation at once, the uplink told, the deadline armed. An
   * uplink that asks while the server goes away is moving to another server of the cluster: it
   * leaves rotation here once it serves there (`handoff`), and keeps serving here until then.
   */
  start(reason: 'requested' | 'admin', timeoutMs: number, handedOff = false): void {
    if (this.timer !== undefined || this.handingOff || this.disposed) return;
    const handoff =
      reason === 'requested' && this.goingAway && !handedOff ? this.link.handoff() : undefined;
    if (handoff !== undefined) {
      this.handingOff = true;
      void handoff.then(() => {
        this.handingOff = false;
        this.start(reason, timeoutMs, true);
      });
      return;
    }
    this.link.withdraw();
    this.link.send({ type: 'draining', reason, timeoutMs });
    this.timer = setTimeout(() => {
      this.link.cutOff(drainTimeout(this.link.label), CLOSE_CODES.DRAINED);
    }, timeoutMs + DRAIN_CLOSE_MARGIN_MS);
    this.timer.unref();
  }

  /** Tells the uplink (once) that the server is going away. */
  goAway(graceMs: number): void {
    if (this.goingAway) return;
    this.goingAway = true;
    this.link.send({ type: 'goaway', graceMs });
  }

  /**
   * The uplink closed with `reason`: one whose own drain deadline passed says so, and what it
   * left unanswered fails alike.
   */
  closeError(reason: string): SwitchboardError | undefined {
    return this.timer !== undefined && reason.startsWith('SB_ERR_DRAIN_TIMEOUT')
      ? drainTimeout(this.link.label)
      : undefined;
  }

  dispose(): void {
    this.disposed = true; // a handoff ending after the close starts nothing
    clearTimeout(this.timer);
  }
}

function drainTimeout(uplink: string): SwitchboardError {
  return new SwitchboardError(
    'SB_ERR_DRAIN_TIMEOUT',
    `Uplink ${uplink} was drained and closed before this call finished`,
  );
}
