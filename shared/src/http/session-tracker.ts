import { decodeValue, encodeValue } from '../codec/msgpack-codec.ts';

/**
 * The handler's view of its session: a plain object it reads and writes (nested values
 * included). At the end, what changed is worked out key by key against a snapshot, so two
 * requests changing different keys of one session at once both keep their change.
 */
export class SessionTracker {
  /** What the handler reads and writes. */
  readonly values: Record<string, unknown>;
  private readonly snapshot = new Map<string, Buffer>();

  constructor(original: Record<string, unknown>) {
    for (const [key, value] of Object.entries(original))
      this.snapshot.set(key, Buffer.from(encodeValue(value)));
    // A deep copy through the codec keeps Dates, bytes and Media as they are.
    this.values = decodeValue(encodeValue(original)) as Record<string, unknown>;
  }

  /** Keys set (with their value) and deleted since the start; undefined when none. */
  changes(): { set: Record<string, unknown>; delete: string[] } | undefined {
    const set: Record<string, unknown> = {};
    let changed = false;
    for (const [key, value] of Object.entries(this.values)) {
      if (value === undefined) continue; // treated as deleted below
      const before = this.snapshot.get(key);
      if (before === undefined || !before.equals(encodeValue(value))) {
        set[key] = value;
        changed = true;
      }
    }
    const deleted = [...this.snapshot.keys()].filter((key) => this.values[key] === undefined);
    if (!changed && deleted.length === 0) return undefined;
    return { set, delete: deleted };
  }
}
