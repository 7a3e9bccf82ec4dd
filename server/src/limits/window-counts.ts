/** What a rate-limit store answers: hits in the current window and the ms until it resets. */
export interface WindowState {
  current: number;
  ttl: number;
}

/** Told of every hit counted here, so other servers can add it to theirs. */
export type HitListener = (windowMs: number, start: number, key: string) => void;

interface Entry {
  /** Start of the window counted (ms since the epoch, a multiple of its length). */
  start: number;
  local: number;
  /** Hits other servers counted for the same key and window. */
  remote: number;
}

/**
 * Fixed-window hit counts for a rate-limit store shared by several servers (docs/cluster.md):
 * windows are aligned to the clock (a 60 s window starts at every whole minute) so that every
 * server counts a hit into the same window, and each key's count is what this server counted
 * plus what the others said they counted. Holds at most `maxKeys` keys, dropping the one counted
 * least recently.
 */
export class WindowCounts {
  private readonly entries = new Map<string, Entry>();
  private listener: HitListener | undefined;

  constructor(private readonly maxKeys: number) {}

  /** Registers the one listener told of every local hit. */
  onHit(listener: HitListener): void {
    this.listener = listener;
  }

  /** Counts a hit on `key` in its current `windowMs` window. */
  incr(key: string, windowMs: number, now = Date.now()): WindowState {
    const entry = this.entry(windowMs, key, windowStart(now, windowMs), true)!;
    entry.local++;
    this.listener?.(windowMs, entry.start, key);
    return { current: entry.local + entry.remote, ttl: entry.start + windowMs - now };
  }

  /** The current window's count of `key` without counting a hit (ttl 0 when there is none). */
  read(key: string, windowMs: number, now = Date.now()): WindowState {
    const entry = this.entry(windowMs, key, windowStart(now, windowMs), false);
    if (entry === undefined) return { current: 0, ttl: 0 };
    return { current: entry.local + entry.remote, ttl: entry.start + windowMs - now };
  }

  /** Adds `hits` another server counted on `key` in the window starting at `start`. */
  addRemote(windowMs: number, start: number, key: string, hits: number): void {
    // A window already over here is dropped; a later one (the other's clock is ahead) is taken.
    if (start + windowMs <= Date.now()) return;
    const entry = this.entry(windowMs, key, start, true)!;
    if (entry.start === start) entry.remote += hits;
  }

  /** Keys counted now (for tests and metrics). */
  get size(): number {
    return this.entries.size;
  }

  /**
   * The entry of `key` for the window starting at `start`: an entry of an earlier window starts
   * over; one of a later window (another server's clock runs ahead) is kept and used.
   */
  private entry(windowMs: number, key: string, start: number, create: boolean): Entry | undefined {
    const id = `${windowMs} ${key}`;
    const entry = this.entries.get(id);
    if (!create) return entry !== undefined && entry.start >= start ? entry : undefined;
    if (entry !== undefined) {
      // Counted again: the newest, the last to go when the bound is reached.
      this.entries.delete(id);
      this.entries.set(id, entry);
      if (entry.start < start) {
        entry.start = start;
        entry.local = 0;
        entry.remote = 0;
      }
      return entry;
    }
    if (this.entries.size >= this.maxKeys) {
      const oldest = this.entries.keys().next();
      if (oldest.done !== true) this.entries.delete(oldest.value);
    }
    const created: Entry = { start, local: 0, remote: 0 };
    this.entries.set(id, created);
    return created;
  }
}

/** The start of the clock-aligned window of length `windowMs` that holds `now`. */
export function windowStart(now: number, windowMs: number): number {
  return now - (now % windowMs);
}

type StoreCallback = (error: Error | null, state: WindowState) => void;

/**
 * A `@fastify/rate-limit` store class (`store` option; the plugin makes it with `new`) over
 * `counts`: every route and limit shares the one set of counts.
 */
export function windowCountsStore(counts: WindowCounts) {
  return class WindowCountsStore {
    incr(key: string, callback: StoreCallback, timeWindow: number): void {
      callback(null, counts.incr(key, timeWindow));
    }

    read(key: string, callback: StoreCallback, timeWindow: number): void {
      callback(null, counts.read(key, timeWindow));
    }

    child(): WindowCountsStore {
      return this;
    }
  };
}
