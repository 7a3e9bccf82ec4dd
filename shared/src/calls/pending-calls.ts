import { emptyMap, own } from '../collections/empty-until-used.ts';
import { performance } from 'node:perf_hooks';
import { MAX_CALL_ID } from '../protocol/frames.ts';

/** The longest delay setTimeout takes as it is (Node fires longer ones at once). */
export const MAX_TIMER_MS = 2 ** 31 - 1;

/** One outstanding request awaiting the peer's answer. */
export interface PendingEntry {
  /** Monotonic time (performance.now()) after which the entry expires; Infinity for never. */
  deadlineAt: number;
}

/**
 * The requests one side has sent and not yet had answered, keyed by per-connection integer id.
 * Deadlines are enforced by a single timer armed for the earliest deadline (not one timer per
 * call); the owner settles entries (take) and must call `dispose()` when the connection ends.
 */
export class PendingCalls<E extends PendingEntry> {
  private entries = emptyMap<number, E>();
  private nextId = 0;
  private timer: NodeJS.Timeout | undefined;
  private timerAt = Infinity;

  /** `owner.expired` is called (entry already removed) for each entry whose deadline passed. */
  constructor(private readonly owner: { expired(id: number, entry: E): void }) {}

  get size(): number {
    return this.entries.size;
  }

  /** A fresh id not in use, wrapping at 2^32. */
  allocateId(): number {
    do {
      this.nextId = this.nextId >= MAX_CALL_ID ? 1 : this.nextId + 1;
    } while (this.entries.has(this.nextId));
    return this.nextId;
  }

  add(id: number, entry: E): void {
    (this.entries = own(this.entries)).set(id, entry);
    if (entry.deadlineAt < this.timerAt) this.arm(entry.deadlineAt);
  }

  get(id: number): E | undefined {
    return this.entries.get(id);
  }

  /** Removes and returns the entry, or undefined if it was already settled. */
  take(id: number): E | undefined {
    const entry = this.entries.get(id);
    if (entry !== undefined) this.entries.delete(id);
    return entry;
  }

  /** A snapshot of the entries, oldest first (entries stay pending). */
  snapshot(): Array<[number, E]> {
    return [...this.entries];
  }

  /** Removes every entry and returns them, for the owner to reject (connection closed). */
  drain(): Array<[number, E]> {
    const all = [...this.entries];
    this.entries.clear();
    return all;
  }

  dispose(): void {
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timer = undefined;
    this.timerAt = Infinity;
  }

  private arm(at: number): void {
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timerAt = at;
    // Node fires delays above 2^31 - 1 ms at once: a far deadline is checked again then.
    const delay = Math.min(MAX_TIMER_MS, Math.max(0, Math.ceil(at - performance.now())));
    this.timer = setTimeout(() => this.sweep(), delay);
    this.timer.unref();
  }

  private sweep(): void {
    this.timer = undefined;
    this.timerAt = Infinity;
    const now = performance.now();
    let next = Infinity;
    const expired: Array<[number, E]> = [];
    for (const [id, entry] of this.entries) {
      if (entry.deadlineAt <= now) expired.push([id, entry]);
      else if (entry.deadlineAt < next) next = entry.deadlineAt;
    }
    for (const [id, entry] of expired) {
      this.entries.delete(id);
      this.owner.expired(id, entry);
    }
    if (next < this.timerAt) this.arm(next);
  }
}
