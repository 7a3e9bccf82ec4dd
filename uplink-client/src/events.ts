import type { SwitchboardError } from '@switchboard/shared';

/** Connection status, reported through `uplink.on('status', ...)`. */
export type UplinkStatus =
  | { state: 'connecting'; attempt: number }
  | { state: 'connected'; connectionId: string }
  | { state: 'reconnecting'; attempt: number; delayMs: number; error: SwitchboardError }
  | { state: 'closed'; error?: SwitchboardError };

export interface UplinkEvents {
  status: (status: UplinkStatus) => void;
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
