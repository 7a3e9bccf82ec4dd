/**
 * Collections that cost nothing until their first entry: an idle uplink holds half a dozen maps
 * of calls and streams that stay empty, and V8 gives every `new Map()` a hash table at once
 * (~170 bytes). A holder starts with the shared empty one and swaps in its own on the first
 * write: `(this.calls = own(this.calls)).set(id, call)`. Writing to the shared one throws.
 */
class NoEntriesMap extends Map<never, never> {
  override set(): this {
    throw new Error('write to the shared empty map: take own() first');
  }
}

class NoEntriesSet extends Set<never> {
  override add(): this {
    throw new Error('write to the shared empty set: take own() first');
  }
}

const NO_ENTRIES_MAP: Map<never, never> = new NoEntriesMap();
const NO_ENTRIES_SET: Set<never> = new NoEntriesSet();

/** The shared empty map, to read from until something is written. */
export function emptyMap<K, V>(): Map<K, V> {
  return NO_ENTRIES_MAP;
}

/** The shared empty set, to read from until something is added. */
export function emptySet<T>(): Set<T> {
  return NO_ENTRIES_SET;
}

/** `collection` itself, or a new one of its own if it is the shared empty one. */
export function own<K, V>(collection: Map<K, V>): Map<K, V>;
export function own<T>(collection: Set<T>): Set<T>;
export function own(collection: Map<unknown, unknown> | Set<unknown>) {
  if (collection === NO_ENTRIES_MAP) return new Map();
  if (collection === NO_ENTRIES_SET) return new Set();
  return collection;
}
