import type { SwitchboardError } from '@switchboard/shared';

/** Connection status, reported through `uplink.on('status', ...)`. */
export type UplinkStatus =
  | { state: 'connecting'; attempt: number }
  | { state: 'connected'; connectionId: string }
  | { state: 'reconnecting'; attempt: number; delayMs: number; error: SwitchboardError }
  | { state: 'closed'; error?: SwitchboardError };

export interface UplinkEvents {
  status: (status: UplinkStatus) => void;
  /**
   * The server took this uplink out of rotation (`reason`: `requested` after `drain()`, `admin`
   * when the server's operator drained it): no new calls come; those in flight finish within
   * `timeoutMs`, then the uplink closes for good (no reconnect).
   */
  drain: (notice: { reason: 'requested' | 'admin'; timeoutMs: number }) => void;
  /**
   * The server is shutting down: the uplink moves (unless `reconnect: false` or it drains): it
   * connects to the next server URL and registers there while the old connection serves what is
   * in flight, then has the old server drain it. Calls in flight may finish within `graceMs`.
   */
  goaway: (notice: { graceMs: number }) => void;
  /** Problems not tied to a call you made (a registration refused, a handler result unsendable). */
  error: (error: SwitchboardError) => void;
}

/** A tiny typed emitter: a listener that throws cannot break the connection loop. */
export class Emitter<E extends { [K in keyof E]: (arg: never) => void }> {
  private readonly listeners = new Map<keyof E, Set<E[keyof E]>>();

  on<K extends keyof E>(event: K, listener: E[K]): () => void {
    let set = this.listeners.get(event);
    if (set === undefined) this.listeners.set(event, (set = new Set()));
    set.add(listener);
    return () => set.delete(listener);
  }

  count(event: keyof E): number {
    return this.listeners.get(event)?.size ?? 0;
  }

  emit<K extends keyof E>(event: K, arg: Parameters<E[K]>[0]): void {
    for (const listener of this.listeners.get(event) ?? []) {
      try {
        (listener as unknown as (value: unknown) => void)(arg);
      } catch (error) {
        queueMicrotask(() => {
          throw error;
        });
      }
    }
  }
}
