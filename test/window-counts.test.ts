// The counts behind cluster-wide rate limits (server/src/limits/window-counts.ts): clock-aligned
// windows, other servers' hits added, clocks a little apart, a bounded number of keys.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { WindowCounts, windowStart } from '../server/src/limits/window-counts.ts';

const MINUTE = 60_000;

test('hits count in clock-aligned windows, with the other servers hits added', () => {
  const counts = new WindowCounts(100);
  const heard: Array<[number, number, string]> = [];
  counts.onHit((windowMs, start, key) => heard.push([windowMs, start, key]));
  const now = Date.now();
  const start = windowStart(now, MINUTE);
  assert.equal(start % MINUTE, 0);

  assert.deepEqual(counts.incr('k', MINUTE, now), { current: 1, ttl: start + MINUTE - now });
  counts.addRemote(MINUTE, start, 'k', 5);
  assert.equal(counts.incr('k', MINUTE, now).current, 7);
  assert.equal(counts.read('k', MINUTE, now).current, 7);
  // The same key under another window length is another count.
  assert.equal(counts.incr('k', 1_000, now).current, 1);
  assert.deepEqual(heard[0], [MINUTE, start, 'k']);
  assert.equal(heard.length, 3);

  // The next window starts over; hits of a window already over are dropped.
  const later = start + MINUTE + 5;
  assert.deepEqual(counts.read('k', MINUTE, later), { current: 0, ttl: 0 });
  assert.equal(counts.incr('k', MINUTE, later).current, 1);
  counts.addRemote(MINUTE, start - MINUTE, 'k', 9);
  assert.equal(counts.read('k', MINUTE, later).current, 1);
});

test("another server's clock running ahead moves the count to its window", () => {
  const counts = new WindowCounts(100);
  const now = Date.now();
  const start = windowStart(now, MINUTE);
  counts.incr('k', MINUTE, now);
  counts.addRemote(MINUTE, start + MINUTE, 'k', 2);
  // This server's next hit counts into the later window the other already counts in.
  const state = counts.incr('k', MINUTE, now);
  assert.equal(state.current, 3);
  assert.equal(state.ttl, start + 2 * MINUTE - now);
});

test('the oldest keys go beyond the bound', () => {
  const counts = new WindowCounts(3);
  for (const key of ['a', 'b', 'c', 'd']) counts.incr(key, MINUTE);
  assert.equal(counts.size, 3);
  assert.equal(counts.read('a', MINUTE).current, 0);
  assert.equal(counts.read('d', MINUTE).current, 1);
  // A key counted again is the newest: the one counted least recently goes first.
  counts.incr('b', MINUTE);
  counts.incr('e', MINUTE);
  assert.equal(counts.read('b', MINUTE).current, 2);
  assert.equal(counts.read('c', MINUTE).current, 0);
});
