import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Packr, pack as msgpackrPack, unpack as msgpackrUnpack } from 'msgpackr';
import {
  DEFAULT_DECODE_LIMITS,
  Media,
  SwitchboardError,
  checkJsonLimits,
  decodeUplinkMessage,
  decodeValue,
  decodeValues,
  encodeValue,
} from '@switchboard/shared';
import { prng } from './helpers/prng.ts';

const BAD_FRAME = { code: 'SB_ERR_PROTO_BAD_FRAME' };
const hex = (text: string): Buffer => Buffer.from(text.replace(/\s/g, ''), 'hex');

/** An array 32 header for `count` items. */
function array32(count: number): Buffer {
  const header = Buffer.alloc(5);
  header[0] = 0xdd;
  header.writeUInt32BE(count, 1);
  return header;
}

test('31 MiB of empty maps is refused by the value budget, fast and without building them', (t) => {
  const count = 31 * 1024 * 1024;
  const bomb = Buffer.alloc(5 + count, 0x80);
  array32(count).copy(bomb);
  const started = performance.now();
  assert.throws(() => decodeValue(bomb), BAD_FRAME);
  assert.throws(() => decodeUplinkMessage(bomb), BAD_FRAME);
  const elapsedMs = performance.now() - started;
  t.diagnostic(`two refusals in ${elapsedMs.toFixed(1)} ms`);
  assert.ok(elapsedMs < 2000, `took ${elapsedMs} ms`);
  // The same shape within the budget still decodes.
  const small = Buffer.concat([array32(1000), Buffer.alloc(1000, 0x80)]);
  assert.equal((decodeValue(small) as unknown[]).length, 1000);
});

test("msgpackr's own extensions (Error, RegExp, Set, Map, typed arrays, records, ...) are refused", () => {
  // 8 MiB of tiny Error values: the first one ends it.
  const count = Math.floor((8 * 1024 * 1024) / 3);
  const errors = Buffer.alloc(5 + count * 3);
  array32(count).copy(errors);
  for (let i = 0; i < count; i++) errors.set([0xd4, 0x65, 0xc0], 5 + i * 3);
  assert.throws(() => decodeValue(errors), BAD_FRAME);
  const allowed = new Set([0x00, 0xff, 0x01, 0x42]);
  for (let type = 0; type < 256; type++) {
    if (allowed.has(type)) continue;
    for (const form of [
      `d4${hex2(type)}00`, // fixext 1
      `d6${hex2(type)}00000000`, // fixext 4
      `c703${hex2(type)}c0c0c0`, // ext 8
      `c80001${hex2(type)}c0`, // ext 16
      `c900000001${hex2(type)}c0`, // ext 32
    ]) {
      assert.throws(() => decodeValue(hex(form)), BAD_FRAME, form);
      assert.throws(() => decodeValue(hex(`91${form}`)), BAD_FRAME, form);
    }
  }
});

function hex2(byte: number): string {
  return byte.toString(16).padStart(2, '0');
}

test('the protocol extensions are read in their own forms only', () => {
  assert.equal(decodeValue(hex('d40000')), undefined);
  for (const bad of ['d40001', 'd5000000', 'c70100 00', 'd600 00000000']) {
    assert.throws(() => decodeValue(hex(bad)), BAD_FRAME, `undefined: ${bad}`);
  }
  assert.equal((decodeValue(hex('d6ff 00000001')) as Date).getTime(), 1000);
  assert.ok(Number.isNaN((decodeValue(hex('d4ffff')) as Date).getTime()), 'invalid Date');
  for (const bad of ['d5ff0000', 'd8ff' + '00'.repeat(16), 'c703ff000000', 'd4ff00']) {
    assert.throws(() => decodeValue(hex(bad)), BAD_FRAME, `timestamp: ${bad}`);
  }
  // Big integers: 1 to 1024 bytes.
  assert.equal(decodeValue(hex('d442ff')), -1n);
  assert.equal(decodeValue(Buffer.concat([hex('c8 0400 42 01'), Buffer.alloc(1023)])), 1n << 8184n);
  assert.throws(
    () => decodeValue(Buffer.concat([hex('c8 0401 42'), Buffer.alloc(1025)])),
    BAD_FRAME,
  );
  assert.throws(() => decodeValue(hex('c70042')), BAD_FRAME, 'empty big integer');
  // Media: [contentType (not empty), name | nil, bin], nothing else, nothing after.
  assert.ok(decodeValue(hex('c7 06 01 93 a1 61 c0 c4 00')) instanceof Media);
  for (const bad of [
    'c7 06 01 92 a1 61 c0 c4 00', // an array of 2
    'c7 05 01 93 a0 c0 c4 00', // empty content type
    'c7 06 01 93 01 61 c0 c4 00', // content type not a string
    'c7 06 01 93 a1 61 01 c4 00', // name neither string nor nil
    'c7 06 01 93 a1 61 c0 a1 00', // bytes not a bin
    'c7 07 01 93 a1 61 c0 c4 00 00', // something after the bytes
    'c7 06 01 93 a1 61 c0 c4 05', // bin longer than the payload
    'c7 03 01 93 a5 61', // string longer than the payload
  ]) {
    assert.throws(() => decodeValue(hex(bad)), BAD_FRAME, `Media: ${bad}`);
  }
});

test('declared lengths longer than the bytes behind them are refused before any allocation', () => {
  const lies = [
    'ddffffffff', // array 32 of 4 billion items
    'dd00100000' + '00'.repeat(100), // a million items, 100 bytes
    'dfffffffff', // map 32
    'df00000002 a161 01', // two pairs, one present
    'de0001 a161', // a pair needs two bytes
    'dc0003 0102', // array 16
    'dbffffffff 61', // str 32
    'c6ffffffff', // bin 32
    'c9ffffffff01', // ext 32
    'c8ffff42 00', // ext 16
    'c7ff42', // ext 8
    'bf 61', // fixstr of 31
    'd9 10 61', // str 8
    '92 dd7fffffff 00 00', // nested
    '9f', // fixarray of 15, nothing behind it
    'cb 0000', // a float cut off
    'cf 00', // uint 64 cut off
    'dd 0000', // a header cut off
  ];
  for (const lie of lies) {
    let refused: unknown;
    try {
      decodeValue(hex(lie));
    } catch (error) {
      refused = error;
    }
    assert.ok(refused instanceof SwitchboardError, `${lie}: ${String(refused)}`);
    assert.equal(refused.code, 'SB_ERR_PROTO_BAD_FRAME', lie);
    assert.match(refused.message, /at byte \d+/, lie);
  }
});

test('nesting deeper than maxDepth is refused, iteratively (no stack overflow)', () => {
  const nested = (depth: number): Buffer =>
    Buffer.concat([Buffer.alloc(depth, 0x91), Buffer.from([0x01])]);
  assert.equal(DEFAULT_DECODE_LIMITS.maxDepth, 64);
  assert.ok(Array.isArray(decodeValue(nested(64))));
  assert.throws(() => decodeValue(nested(65)), BAD_FRAME);
  assert.throws(() => decodeValue(nested(10_000_000)), BAD_FRAME);
  // Empty containers count as a level too, and maps nest like arrays.
  assert.throws(
    () => decodeValue(Buffer.concat([Buffer.alloc(64, 0x91), Buffer.from([0x90])])),
    BAD_FRAME,
  );
  const maps = Buffer.concat([
    Buffer.from(Array.from({ length: 65 }, () => [0x81, 0xa1, 0x6b]).flat()),
    Buffer.from([0xc0]),
  ]);
  assert.throws(() => decodeValue(maps), BAD_FRAME);
  // Callers choose other budgets.
  assert.ok(decodeValue(nested(100), { maxDepth: 100, maxValues: 1000 }));
  assert.throws(() => decodeValue(hex('9191 01'), { maxDepth: 1, maxValues: 10 }), BAD_FRAME);
  assert.throws(() => decodeValue(hex('93 010203'), { maxDepth: 4, maxValues: 3 }), BAD_FRAME);
  assert.deepEqual(decodeValue(hex('93 010203'), { maxDepth: 4, maxValues: 4 }), [1, 2, 3]);
  // Map keys count as values; so does each value of a batched message.
  assert.throws(() => decodeValue(hex('81 a161 01'), { maxDepth: 4, maxValues: 2 }), BAD_FRAME);
  assert.throws(() => decodeValues(hex('01 02 03'), { maxDepth: 4, maxValues: 2 }), BAD_FRAME);
  const frame = encodeValue({ type: 'call', id: 1, name: 'f', args: [1, 2, 3] });
  assert.equal(decodeUplinkMessage(frame).length, 1);
  assert.throws(() => decodeUplinkMessage(frame, { maxDepth: 64, maxValues: 8 }), BAD_FRAME);
  for (const limits of [
    { maxDepth: 0, maxValues: 10 },
    { maxDepth: 1001, maxValues: 10 },
    { maxDepth: 1.5, maxValues: 10 },
    { maxDepth: 4, maxValues: 0 },
    { maxDepth: 4, maxValues: Number.NaN },
  ]) {
    assert.throws(() => decodeValue(hex('01'), limits), { code: 'SB_ERR_OPTIONS_INVALID' });
  }
});

test('truncation, trailing bytes, 0xc1 and non-scalar map keys are refused', () => {
  for (const bad of [
    '',
    '01 02', // trailing (one value expected)
    'c1',
    '91 c1',
    '81 91 01 02', // an array as a key
    '81 80 01', // a map as a key
    '81 c4 01 61 01', // bin as a key
    '81 d4 00 00 01', // an extension as a key
    '92 01', // one item short
  ]) {
    assert.throws(() => decodeValue(hex(bad)), BAD_FRAME, bad);
  }
  assert.deepEqual(decodeValues(hex('01 02 a161')), [1, 2, 'a']);
  // Scalar keys become their text, as msgpackr made them.
  assert.deepEqual(decodeValue(hex('84 01 a161 c3 a162 c0 a163 cb3ff8000000000000 a164')), {
    '1': 'a',
    true: 'b',
    null: 'c',
    '1.5': 'd',
  });
});

test('a __proto__ key is renamed __proto_ and never becomes a prototype', () => {
  // {"__proto__": {"polluted": 1}, "a": [{"__proto__": 2}]}
  const bytes = hex(
    '82 a9 5f5f70726f746f5f5f 81 a8 706f6c6c75746564 01 a1 61 91 81 a9 5f5f70726f746f5f5f 02',
  );
  const value = decodeValue(bytes) as Record<string, unknown>;
  assert.equal(Object.getPrototypeOf(value), Object.prototype);
  assert.ok(Object.hasOwn(value, '__proto_'));
  assert.ok(!Object.hasOwn(value, '__proto__'));
  assert.deepEqual(value['__proto_'], { polluted: 1 });
  assert.equal((value as { polluted?: unknown }).polluted, undefined);
  assert.equal(({} as { polluted?: unknown }).polluted, undefined);
  assert.deepEqual((value['a'] as unknown[])[0], { __proto_: 2 });
});

test('the wire format is unchanged: Media, undefined, Date, BigInt bytes pinned', () => {
  const pins: [unknown, string][] = [
    [new Media('a/b', new Uint8Array([9]), 'n'), 'c70a0193a3612f62a16ec40109'],
    [
      new Media('a/b', new Uint8Array([1, 2, 3, 4, 5, 6, 7, 8])),
      'd80193a3612f62c0c4080102030405060708',
    ], // fixext 16
    [undefined, 'd40000'],
    [null, 'c0'],
    [new Date(0), 'd6ff00000000'],
    [new Date(1_000_000_000_123), 'd7ff1d5353003b9aca00'],
    [new Date(-1000), 'c70cff00000000ffffffffffffffff'],
    [2n ** 100n + 7n, 'd84200000010000000000000000000000007'], // fixext 16, type 0x42
    [-(2n ** 90n), 'd842fffffffffc0000000000000000000000'],
    [-(2n ** 63n), 'd38000000000000000'],
    [2n ** 64n - 1n, 'cfffffffffffffffff'],
    [5n, 'd30000000000000005'],
    [[{ a: 1 }], '91de0001a16101'],
    [2 ** 40, 'cb4270000000000000'],
  ];
  for (const [value, bytes] of pins) {
    assert.equal(encodeValue(value).toString('hex'), bytes, String(value));
    const back = decodeValue(hex(bytes));
    if (value instanceof Date) assert.equal((back as Date).getTime(), value.getTime());
    else assert.deepStrictEqual(back, value instanceof Media ? withBuffer(value) : value);
  }
});

/** The Media as decoded: its bytes a Buffer (a view of the message). */
function withBuffer(media: Media): Media {
  return new Media(media.contentType, Buffer.from(media.bytes), media.name);
}

test("importing the codec leaves msgpackr's own pack and unpack as they were", () => {
  const media = new Media('a/b', new Uint8Array([9]), 'n');
  // For msgpackr, Media is a plain object again: a map, not extension 1.
  const packed = msgpackrPack(media);
  assert.notEqual(packed[0], 0xc7);
  assert.deepEqual(msgpackrUnpack(packed), {
    contentType: 'a/b',
    bytes: Buffer.from([9]),
    name: 'n',
  });
  // And extension 1 means nothing to msgpackr.
  assert.throws(() => msgpackrUnpack(encodeValue(media)), /Unknown extension/);
  // Its built-in extensions still work for its own users.
  const structured = new Packr({ moreTypes: true });
  assert.ok(structured.unpack(structured.pack(/x/g)) instanceof RegExp);
  assert.ok(structured.unpack(structured.pack(new Set([1]))) instanceof Set);
});

/** Random values of every protocol type, at most `depth` deep. */
function randomValue(random: () => number, depth: number): unknown {
  const pick = Math.floor(random() * (depth > 0 ? 16 : 12));
  const text = (): string => {
    const length = Math.floor(random() * (random() < 0.1 ? 300 : 20));
    let result = '';
    for (let i = 0; i < length; i++) {
      const kind = random();
      result +=
        kind < 0.8
          ? String.fromCharCode(32 + Math.floor(random() * 95))
          : kind < 0.9
            ? 'é✓'[Math.floor(random() * 2)]!
            : '😀';
    }
    return result;
  };
  switch (pick) {
    case 0:
      return null;
    case 1:
      return undefined;
    case 2:
      return random() < 0.5;
    case 3:
      return Math.floor(random() * 2 ** 32) - 2 ** 31;
    case 4:
      return Math.floor(random() * 2 ** 53) * (random() < 0.5 ? -1 : 1) || 1;
    case 5:
      return (random() - 0.5) * 1e6;
    case 6:
      return text();
    case 7:
      return Buffer.from(Array.from({ length: Math.floor(random() * 40) }, () => random() * 256));
    case 8:
      return new Date(Math.floor((random() - 0.3) * 4e12));
    case 9:
      return (
        BigInt(Math.floor(random() * 2 ** 53)) ** BigInt(1 + Math.floor(random() * 4)) *
        (random() < 0.5 ? -1n : 1n)
      );
    case 10:
      return new Media(
        `type/${text() || 'x'}`,
        Buffer.from(text()),
        random() < 0.5 ? undefined : text(),
      );
    case 11:
      return Math.floor(random() * 200);
    case 12:
    case 13:
      return Array.from({ length: Math.floor(random() * 6) }, () => randomValue(random, depth - 1));
    default: {
      const object: Record<string, unknown> = {};
      for (let i = Math.floor(random() * 6); i > 0; i--) {
        const key = text();
        if (key === '__proto__') continue;
        object[key] = randomValue(random, depth - 1);
      }
      return object;
    }
  }
}

test('every protocol value round-trips unchanged, as msgpackr would have read it', () => {
  const random = prng(14);
  // msgpackr as the codec used it before, for values without Media: the same values back.
  const reference = new Packr({
    useRecords: false,
    moreTypes: false,
    mapsAsObjects: true,
    useBigIntExtension: true,
    int64AsType: 'bigint',
  });
  const holdsMedia = (value: unknown): boolean =>
    value instanceof Media ||
    (typeof value === 'object' &&
      value !== null &&
      !ArrayBuffer.isView(value) &&
      Object.values(value).some(holdsMedia));
  for (let i = 0; i < 2000; i++) {
    const value = randomValue(random, 4);
    const encoded = encodeValue(value);
    assert.deepStrictEqual(decodeValue(encoded), value, `value ${i}`);
    if (!holdsMedia(value)) {
      assert.ok(encoded.equals(reference.pack(value)), `bytes of value ${i}`);
      assert.deepStrictEqual(decodeValue(encoded), reference.unpack(encoded), `value ${i}`);
    }
  }
  // Media wherever the encoder goes, the caller's value untouched.
  const media = new Media('image/png', Buffer.from([1, 2, 3]), 'dot.png');
  class Holder {
    constructor(readonly inside: unknown) {}
  }
  const nested = {
    list: [media, { deeper: [media] }],
    map: new Map([['m', media]]),
    set: new Set([media]),
    holder: new Holder(media),
    contentType: 'not a Media',
  };
  const back = decodeValue(encodeValue(nested)) as Record<string, unknown>;
  assert.deepStrictEqual(back['list'], [media, { deeper: [media] }]);
  assert.deepStrictEqual(back['map'], { m: media });
  assert.deepStrictEqual(back['set'], [media]);
  assert.deepStrictEqual(back['holder'], { inside: media });
  assert.equal(back['contentType'], 'not a Media');
  // A key like Media's without a Media: the same bytes as msgpackr's; Media after 1 KiB found.
  const lookalike = { contentType: 'a/b', bytes: Buffer.from([1]), name: 'n' };
  assert.ok(encodeValue(lookalike).equals(reference.pack(lookalike)));
  assert.deepStrictEqual(decodeValue(encodeValue(lookalike)), lookalike);
  const late = [Buffer.alloc(5000, 0xab), 'x'.repeat(3000), media];
  assert.deepStrictEqual(decodeValue(encodeValue(late)), late);
  // Past 64 KiB the value is walked instead of the bytes searched; without Media, same bytes.
  const big = { blob: Buffer.alloc(70_000, 0xab), list: [1, 'contentType'] };
  assert.ok(encodeValue(big).equals(reference.pack(big)));
  const bigMedia = { blob: Buffer.alloc(70_000), media };
  assert.deepStrictEqual(decodeValue(encodeValue(bigMedia)), bigMedia);
  assert.equal(nested.list[0], media, 'the value encoded is not changed');
  // Decoding a Uint8Array that is not a Buffer, and a message of more than 8 KiB.
  const large = { text: 'x'.repeat(10_000), keys: Array.from({ length: 500 }, (_, n) => `k${n}`) };
  const bytes = encodeValue(large);
  assert.deepStrictEqual(decodeValue(new Uint8Array(bytes)), large);
  assert.deepStrictEqual(decodeValue(bytes), large);
  // Invalid UTF-8 (here a lone surrogate's three bytes) reads as U+FFFD, as before.
  assert.equal(decodeValue(encodeValue('a\ud800b')), 'a\ufffd\ufffd\ufffdb');
  assert.equal(decodeValue(hex('a3 61ff62')), 'a\ufffdb');
});

test('fuzz: 20,000 random and mutated frames decode to values or SB_ERR_PROTO_BAD_FRAME', () => {
  const random = prng(20_014);
  const seeds = [
    encodeValue({ type: 'call', id: 3, name: 'add', args: [1, { a: [2, 3] }], timeoutMs: 100 }),
    encodeValue({ type: 'result', id: 9, value: randomValue(prng(1), 5) }),
    encodeValue([new Media('a/b', Buffer.from('hi'), 'n'), new Date(), 2n ** 80n, undefined]),
    encodeValue({ type: 'hello', protocol: 1, key: 'sk_x', name: 'é✓😀'.repeat(9) }),
  ];
  const interesting = [
    0xdd, 0xdf, 0xdc, 0xde, 0xdb, 0xc6, 0xc9, 0xd4, 0xc7, 0xff, 0x00, 0x7f, 0xc1,
  ];
  let accepted = 0;
  for (let i = 0; i < 20_000; i++) {
    let input: Buffer;
    const kind = i % 4;
    if (kind === 0) {
      input = Buffer.from(
        Array.from({ length: 1 + Math.floor(random() * 64) }, () => random() * 256),
      );
    } else {
      input = Buffer.from(seeds[Math.floor(random() * seeds.length)]!);
      for (let f = 1 + Math.floor(random() * 4); f > 0; f--) {
        const at = Math.floor(random() * input.length);
        input[at] =
          kind === 1
            ? Math.floor(random() * 256)
            : interesting[Math.floor(random() * interesting.length)]!;
      }
      if (kind === 3) {
        const cut = Math.floor(random() * input.length);
        input =
          random() < 0.5 ? input.subarray(0, cut) : Buffer.concat([input, input.subarray(cut)]);
      }
    }
    const limits = {
      maxDepth: 1 + Math.floor(random() * 8),
      maxValues: 1 + Math.floor(random() * 200),
    };
    for (const decode of [
      () => decodeValue(input),
      () => decodeValues(input, limits),
      () => decodeUplinkMessage(input),
    ]) {
      try {
        decode();
        accepted++;
      } catch (error) {
        assert.ok(error instanceof SwitchboardError, `${input.toString('hex')}: ${String(error)}`);
        assert.equal(error.code, 'SB_ERR_PROTO_BAD_FRAME', input.toString('hex'));
      }
    }
  }
  assert.ok(accepted > 0 && accepted < 60_000, `accepted ${accepted}`);
});

test('checkJsonLimits refuses deep or numerous JSON before JSON.parse, and passes the rest', (t) => {
  const limits = { maxDepth: 3, maxValues: 10 };
  const BAD_BODY = { code: 'SB_ERR_HTTP_BAD_BODY' };
  checkJsonLimits('{"a":[1,{"b":null}]}', limits);
  checkJsonLimits('["[[[[{{{{", "\\"[[[[", "\\\\", "]]]]"]', limits); // brackets in strings
  checkJsonLimits('-1.5e+10', limits);
  assert.throws(() => checkJsonLimits('[[[[1]]]]', limits), BAD_BODY);
  assert.throws(() => checkJsonLimits('[1,2,3,4,5,6,7,8,9,10]', limits), BAD_BODY);
  assert.throws(() => checkJsonLimits('{"a":1,"b":2,"c":3,"d":4,"e":5}', limits), BAD_BODY);
  assert.throws(() => checkJsonLimits('["\\\\", [[[]]]]', limits), BAD_BODY); // escaped backslash
  checkJsonLimits('[true, false, null, 12345678901234567890]', limits);
  assert.throws(() => checkJsonLimits('1', { maxDepth: 0, maxValues: 1 }), {
    code: 'SB_ERR_OPTIONS_INVALID',
  });
  // 19 MiB of [{},{},...]: refused by the default budget.
  const bomb = `[${'{},'.repeat((19 * 1024 * 1024) / 3)}{}]`;
  const started = performance.now();
  assert.throws(() => checkJsonLimits(bomb, DEFAULT_DECODE_LIMITS), BAD_BODY);
  t.diagnostic(`19 MiB JSON refused in ${(performance.now() - started).toFixed(1)} ms`);
  const deep = `${'['.repeat(100_000)}${']'.repeat(100_000)}`;
  assert.throws(() => checkJsonLimits(deep, DEFAULT_DECODE_LIMITS), BAD_BODY);
});
