import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Media, toWireResponse } from '@switchboard/shared';

const json = (value: unknown): unknown =>
  JSON.parse(Buffer.from(toWireResponse(value).body!).toString('utf8'));

test('JSON responses: BigInt, bytes and Media are found however deep they sit', () => {
  assert.deepEqual(json({ a: [1, { b: 2n }] }), { a: [1, { b: '2' }] });
  assert.deepEqual(json([[[Buffer.from('hi')]]]), [[['aGk=']]]);
  assert.deepEqual(json({ list: [{ file: new Media('text/plain', 'x', 'x.txt') }] }), {
    list: [{ file: { contentType: 'text/plain', name: 'x.txt', base64: 'eA==' } }],
  });
  assert.deepEqual(json({ when: new Date(0), n: null, s: 'x' }), {
    when: '1970-01-01T00:00:00.000Z',
    n: null,
    s: 'x',
  });
  assert.deepEqual(json(5n), '5');
});

test('unsendable JSON (circular, too deep) is SB_ERR_HTTP_BAD_RESPONSE, never a crash', () => {
  const circular: Record<string, unknown> = {};
  circular.self = circular;
  assert.throws(() => toWireResponse(circular), { code: 'SB_ERR_HTTP_BAD_RESPONSE' });
  let deep: unknown = 1;
  for (let i = 0; i < 100_000; i++) deep = [deep];
  assert.throws(() => toWireResponse(deep), { code: 'SB_ERR_HTTP_BAD_RESPONSE' });
});

test('Media.text decodes ASCII, UTF-8 and drops a byte order mark as before', () => {
  assert.equal(new Media('text/plain', Buffer.from('{"a":1}')).text(), '{"a":1}');
  assert.equal(new Media('text/plain', Buffer.from('héllo ✓', 'utf8')).text(), 'héllo ✓');
  const bom = Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from('{"b":2}')]);
  assert.equal(new Media('application/json', bom).text(), '{"b":2}');
  const view = new Uint8Array(Buffer.from('xxabcxx')).subarray(2, 5);
  assert.equal(new Media('text/plain', view).text(), 'abc');
});
