import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { test } from 'node:test';
import {
  Media,
  SwitchboardError,
  decodeServerMessage,
  decodeUplinkMessage,
  decodeValue,
  encodeValue,
} from '@switchboard/shared';

function roundTrip(value: unknown): unknown {
  return decodeValue(encodeValue(value));
}

test('JSON values, bytes, Date, BigInt and Media survive a round trip', () => {
  const value = {
    text: 'héllo ✓',
    int: 42,
    negative: -7,
    big: 2 ** 40,
    float: 1.5,
    yes: true,
    nothing: null,
    missing: undefined,
    list: [1, 'two', null, undefined, [3]],
    bytes: new Uint8Array([0, 1, 254, 255]),
    when: new Date('2026-11-22T10:00:00.123Z'),
    int64: 9_007_199_254_740_993n,
    negative64: -(2n ** 63n),
    huge: 2n ** 100n + 7n,
    hugeNegative: -(2n ** 90n),
    media: new Media('image/png', new Uint8Array([137, 80, 78, 71]), 'dot.png'),
    unnamed: new Media('text/plain', 'hi'),
  };
  const back = roundTrip(value) as typeof value;
  assert.equal(back.text, value.text);
  assert.equal(back.int, 42);
  assert.equal(back.big, 2 ** 40);
  assert.equal(typeof back.big, 'number');
  assert.equal(back.float, 1.5);
  assert.equal(back.nothing, null);
  assert.ok(Object.hasOwn(back, 'missing'), 'a key holding undefined is kept');
  assert.equal(back.missing, undefined);
  assert.deepEqual(back.list, [1, 'two', null, undefined, [3]]);
  assert.equal(back.list[2], null);
  assert.equal(back.list[3], undefined);
  assert.deepEqual([...back.bytes], [0, 1, 254, 255]);
  assert.ok(back.when instanceof Date);
  assert.equal(back.when.toISOString(), '2026-11-22T10:00:00.123Z');
  assert.equal(back.int64, 9_007_199_254_740_993n);
  assert.equal(back.negative64, -(2n ** 63n));
  assert.equal(back.huge, 2n ** 100n + 7n);
  assert.equal(back.hugeNegative, -(2n ** 90n));
  assert.ok(back.media instanceof Media);
  assert.equal(back.media.contentType, 'image/png');
  assert.equal(back.media.name, 'dot.png');
  assert.deepEqual([...back.media.bytes], [137, 80, 78, 71]);
  assert.equal(back.unnamed.name, undefined);
  assert.equal(back.unnamed.text(), 'hi');
  assert.equal(roundTrip(5n), 5n, 'a small BigInt stays a BigInt');
});

test('the wire is plain MessagePack: no record extension, Media is ext type 1', () => {
  // Repeated shapes stay plain maps (map16, which msgpackr writes for speed), not records.
  assert.equal(encodeValue([{ a: 1 }, { a: 2 }]).toString('hex'), '92de0001a16101de0001a16102');
  assert.equal(encodeValue(undefined).toString('hex'), 'd40000');
  assert.equal(encodeValue(null).toString('hex'), 'c0');
  const media = encodeValue(new Media('a/b', new Uint8Array([9]), 'n'));
  // ext 8 (0xc7, length 10, type 1), payload is the msgpack array ["a/b", "n", bin(09)].
  assert.equal(media.toString('hex'), 'c70a0193a3612f62a16ec40109');
  const big = encodeValue(new Media('a/b', new Uint8Array(70_000)));
  assert.equal(big[0], 0xc9, 'ext 32 for a large payload');
  assert.equal((decodeValue(big) as Media).bytes.byteLength, 70_000);
});

test('values that cannot be encoded fail with SB_ERR_VALUE_NOT_SERIALIZABLE', () => {
  const circular: Record<string, unknown> = {};
  circular.self = circular;
  for (const bad of [Symbol('x'), circular]) {
    assert.throws(() => encodeValue(bad), { code: 'SB_ERR_VALUE_NOT_SERIALIZABLE' });
  }
});

test('the decode gate accepts valid frames, including several in one message', () => {
  const message = Buffer.concat([
    encodeValue({ type: 'hello', protocol: 1, name: 'x' }),
    encodeValue({ type: 'call', id: 1, name: 'add', args: [1, 2], timeoutMs: 100 }),
    encodeValue({ type: 'result', id: 7 }),
    encodeValue({
      type: 'error',
      id: 8,
      error: { code: 'SB_ERR_REMOTE_ERROR', type: 'TypeError', message: 'm' },
    }),
  ]);
  const frames = decodeUplinkMessage(message);
  assert.deepEqual(
    frames.map((f) => f.type),
    ['hello', 'call', 'result', 'error'],
  );
  const welcome = decodeServerMessage(
    encodeValue({
      type: 'welcome',
      protocol: 1,
      connectionId: 'u_1',
      keyKind: 'server',
      keyName: 'k',
      limits: { maxFrameBytes: 2048, pingIntervalMs: 10, defaultCallTimeoutMs: 10 },
    }),
  );
  assert.equal(welcome[0]?.type, 'welcome');
});

test('malformed frames are SB_ERR_PROTO_BAD_FRAME', () => {
  const bad: unknown[] = [
    [1, 2],
    'hello',
    { protocol: 1 },
    { type: 'nope', id: 1 },
    { type: 'hello' },
    { type: 'hello', protocol: -1 },
    { type: 'call', id: -1, name: 'f', args: [] },
    { type: 'call', id: 2 ** 33, name: 'f', args: [] },
    { type: 'call', id: 1.5, name: 'f', args: [] },
    { type: 'call', id: 1, name: 'f', args: 'no' },
    { type: 'call', id: 1, name: 'f', args: [], timeoutMs: 0 },
    { type: 'register', id: 1, functions: [] },
    { type: 'register', id: 1, functions: [{ name: 7 }] },
    { type: 'unregister', id: 1, names: 'f' },
    { type: 'error', id: 1, error: 'boom' },
    { type: 'error', id: 1, error: { code: 1, type: 'x', message: 'y' } },
    { type: 'welcome', protocol: 1 },
    { type: '__proto__', id: 1 },
  ];
  for (const frame of bad) {
    assert.throws(
      () => decodeUplinkMessage(encodeValue(frame)),
      { code: 'SB_ERR_PROTO_BAD_FRAME' },
      JSON.stringify(frame),
    );
  }
  // A well-formed call naming an invalid function is answered, not fatal: the gate marks it
  // refused (from the server, which never sends one, it is still a bad frame).
  for (const name of ['', 'has space', 'x'.repeat(201)]) {
    const call = encodeValue({ type: 'call', id: 1, name, args: [] });
    const [frame] = decodeUplinkMessage(call);
    assert.equal(frame?.type === 'call' && frame.refusal?.code, 'SB_ERR_NAME_INVALID', name);
    assert.throws(() => decodeServerMessage(call), { code: 'SB_ERR_PROTO_BAD_FRAME' });
  }
  // Frames of the other direction are not accepted.
  assert.throws(() => decodeServerMessage(encodeValue({ type: 'hello', protocol: 1 })), {
    code: 'SB_ERR_PROTO_BAD_FRAME',
  });
  for (const hex of ['', 'c1', '92', 'dc', 'dd7fffffff', 'd40500', '81a474797065']) {
    assert.throws(
      () => decodeUplinkMessage(Buffer.from(hex, 'hex')),
      { code: 'SB_ERR_PROTO_BAD_FRAME' },
      hex,
    );
  }
});

test('hostile bytes never escape the gate as anything but SB_ERR_PROTO_BAD_FRAME', () => {
  const valid = encodeValue({ type: 'call', id: 3, name: 'add', args: [1, { a: [2, 3] }] });
  const seedTime = Date.now();
  let accepted = 0;
  for (let i = 0; i < 3000; i++) {
    let input: Buffer;
    if (i % 2 === 0) {
      input = randomBytes(1 + (i % 64));
    } else {
      input = Buffer.from(valid);
      const flips = 1 + (i % 4);
      for (let f = 0; f < flips; f++) {
        const at = (i * 7919 + f * 104729 + seedTime) % input.length;
        input[at] = (input[at]! ^ (1 + ((i + f) % 255))) & 0xff;
      }
      if (i % 5 === 0) input = input.subarray(0, i % input.length);
    }
    try {
      decodeUplinkMessage(input);
      decodeServerMessage(input);
      accepted++;
    } catch (error) {
      assert.ok(
        error instanceof SwitchboardError,
        `non-coded error for ${input.toString('hex')}: ${String(error)}`,
      );
      assert.equal(error.code, 'SB_ERR_PROTO_BAD_FRAME');
    }
  }
  assert.ok(accepted < 3000);
});
