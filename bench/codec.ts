// npm run bench:codec — what encoding one `request` frame costs in the door: the generic
// MessagePack encoder (msgpackr with the project's options) against the frame encoder the door
// uses (`encodeFrame` → shared/src/codec/request-encoding.ts), on the bench's GET frame and on a
// frame with a browser's headers. In one process, alternated in blocks; medians of the blocks.
// A micro-benchmark: the figures are per frame with warm caches, for comparing the two encoders
// with each other, not for adding up to a request's cost.
// The second table: the codec's `decodeValues` (the gate every received message goes through:
// structural scan with limits, then the values built) and `encodeValue` against msgpackr's own
// `unpackMultiple`/`pack` with the same options, on typical frames.
import { Packr } from 'msgpackr';
import { PACKR_OPTIONS } from '../shared/src/codec/msgpack-codec.ts';
import {
  decodeValues,
  encodeFrame,
  encodeValue,
  type AnyFrame,
  type RequestFrame,
} from '@switchboard/shared';

const BLOCKS = 9;
const PER_BLOCK = 200_000;

const bench: RequestFrame = {
  type: 'request',
  id: 1234,
  endpoint: '/hello/:name',
  request: {
    method: 'GET',
    path: '/hello/world',
    params: { name: 'world' },
    query: '',
    headers: { host: '127.0.0.1:43211' },
    remoteAddress: '127.0.0.1',
    appOrigin: 'http://127.0.0.1:43211',
    apiOrigin: 'http://127.0.0.1:43211/_/api',
  },
  timeoutMs: 30_000,
  caller: { kind: 'http' },
  requestId: 'sbAbCdEfGh-1a2b',
};
const browser: RequestFrame = {
  ...bench,
  request: {
    ...bench.request,
    headers: {
      host: 'app.example.test',
      connection: 'keep-alive',
      'sec-ch-ua': '"Chromium";v="130", "Not?A_Brand";v="99"',
      'sec-ch-ua-mobile': '?0',
      'user-agent':
        'Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/130.0.0.0 Safari/537.36',
      accept:
        'text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,image/webp,*/*;q=0.8',
      'accept-encoding': 'gzip, deflate, br',
      'accept-language': 'en-GB,en;q=0.9',
      cookie: 'theme=dark; lang=en',
    },
  },
};

/** Nanoseconds per call, one block. */
function block<T>(encode: (frame: T) => unknown, frame: T, perBlock = PER_BLOCK): number {
  const started = process.hrtime.bigint();
  for (let i = 0; i < perBlock; i++) encode(frame);
  return Number(process.hrtime.bigint() - started) / perBlock;
}

const median = (values: number[]): number => {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)]!;
};

const rows: string[] = [];
for (const [name, frame] of [
  ['GET of the bench', bench],
  ['GET with browser headers', browser],
] as const) {
  const generic = (f: RequestFrame) => encodeValue(f);
  const door = (f: RequestFrame) => encodeFrame(f);
  const encoded = encodeFrame(frame);
  if (!Buffer.isBuffer(encoded) || !encoded.equals(encodeValue(frame)))
    throw new Error(`${name}: the two encoders disagree`);
  block(generic, frame); // warm-up
  block(door, frame);
  const times: { generic: number[]; door: number[] } = { generic: [], door: [] };
  for (let i = 0; i < BLOCKS; i++) {
    times.generic.push(block(generic, frame));
    times.door.push(block(door, frame));
  }
  const [g, d] = [median(times.generic), median(times.door)];
  rows.push(
    `| ${name} | ${encoded.byteLength} | ${(g / 1000).toFixed(2)} | ${(d / 1000).toFixed(2)} | ${(d / g).toFixed(2)} |`,
  );
}
console.log(
  `Node ${process.version}; ${BLOCKS} blocks of ${PER_BLOCK} frames, alternated; medians\n`,
);
console.log('| frame | bytes | generic µs | door µs | door ÷ generic |');
console.log('| --- | --- | --- | --- | --- |');
for (const row of rows) console.log(row);

// msgpackr with the codec's options (no Media extension: these frames carry none).
const reference = new Packr(PACKR_OPTIONS);
const users = Array.from({ length: 50 }, (_, i) => ({
  id: i + 1,
  email: `user${i}@example.test`,
  enabled: i % 3 !== 0,
  createdAt: 1_760_000_000_000 + i,
  lastLoginAt: i % 2 === 0 ? null : 1_760_000_100_000 + i,
  data: { plan: 'free', tags: ['a', 'b'] },
}));
const frames: [string, AnyFrame, number][] = [
  ['call add(1, 2)', { type: 'call', id: 77, name: 'add', args: [1, 2], timeoutMs: 30_000 }, 1],
  ['GET request frame', bench, 1],
  [
    'result: HTTP answer, 200 B body',
    {
      type: 'result',
      id: 77,
      value: {
        status: 200,
        headers: { 'content-type': 'application/json' },
        body: Buffer.alloc(200, 0x61),
      },
    },
    1,
  ],
  ['result: 50 users', { type: 'result', id: 78, value: users }, 20],
];
const valueRows: string[] = [];
for (const [name, frame, slower] of frames) {
  const bytes = encodeValue(frame);
  if (!bytes.equals(reference.pack(frame))) throw new Error(`${name}: encodings differ`);
  const perBlock = Math.round(PER_BLOCK / slower);
  const cases = {
    unpack: (): unknown => reference.unpackMultiple(bytes) as unknown,
    decode: () => decodeValues(bytes),
    pack: () => reference.pack(frame),
    encode: () => encodeValue(frame),
  };
  const times: Record<keyof typeof cases, number[]> = {
    unpack: [],
    decode: [],
    pack: [],
    encode: [],
  };
  for (const run of Object.values(cases)) block(run, undefined, perBlock); // warm-up
  for (let i = 0; i < BLOCKS; i++) {
    for (const [key, run] of Object.entries(cases)) {
      times[key as keyof typeof cases].push(block(run, undefined, perBlock));
    }
  }
  const [u, d, p, e] = [times.unpack, times.decode, times.pack, times.encode].map(median) as [
    number,
    number,
    number,
    number,
  ];
  const us = (ns: number) => (ns / 1000).toFixed(2);
  valueRows.push(
    `| ${name} | ${bytes.byteLength} | ${us(u)} | ${us(d)} | ${(d / u).toFixed(2)} | ${us(p)} | ${us(e)} | ${(e / p).toFixed(2)} |`,
  );
}
console.log(
  '\n| frame | bytes | msgpackr unpack µs | decodeValues µs | ÷ | msgpackr pack µs | encodeValue µs | ÷ |',
);
console.log('| --- | --- | --- | --- | --- | --- | --- | --- |');
for (const row of valueRows) console.log(row);
