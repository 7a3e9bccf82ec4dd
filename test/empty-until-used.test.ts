// Collections shared while empty (shared/src/collections/empty-until-used.ts): reads work, the
// first write takes an own collection, and a write to the shared one is refused loudly.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { emptyMap, emptySet, own } from '@switchboard/shared';

test('the shared empty map and set are read-only until owned', () => {
  let a = emptyMap<number, string>();
  const b = emptyMap<number, string>();
  assert.equal(a, b);
  assert.equal(a.size, 0);
  assert.equal(a.get(1), undefined);
  assert.equal(a.delete(1), false);
  assert.throws(() => a.set(1, 'x'), /shared empty map/);
  (a = own(a)).set(1, 'x');
  assert.notEqual(a, b);
  assert.equal(b.size, 0);
  assert.equal(own(a), a);

  let s = emptySet<string>();
  assert.throws(() => s.add('x'), /shared empty set/);
  (s = own(s)).add('x');
  assert.equal(emptySet<string>().size, 0);
  assert.ok(s.has('x'));
});
