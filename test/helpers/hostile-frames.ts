import { encodeValue } from '@switchboard/shared';

type Random = () => number;

const pick = <T>(random: Random, items: readonly T[]): T =>
  items[Math.floor(random() * items.length)]!;

const FRAME_TYPES = [
  'hello',
  'register',
  'unregister',
  'call',
  'cancel',
  'result',
  'error',
  'drain',
  'chunk',
  'end',
  'credit',
  'abort',
  'large',
  'welcome',
  'nope',
  '',
] as const;

/** A number of a kind that breaks naive checks: negative, fractional, huge, not a number. */
function wildNumber(random: Random): unknown {
  return pick(random, [
    0,
    1,
    -1,
    0.5,
    2 ** 32,
    2 ** 53,
    Number.NaN,
    Infinity,
    '7',
    null,
    Math.floor(random() * 1000),
    Math.floor(random() * 2 ** 32),
  ]);
}

function wildName(random: Random): unknown {
  return pick(random, [
    'fz.fn',
    `fz.${Math.floor(random() * 50)}`,
    'bad name!',
    '',
    'x'.repeat(201),
    'sb.users.list',
    'open.echo',
    '__proto__',
    42,
    null,
  ]);
}

/** A value of bounded size and depth, of every MessagePack kind. */
function wildValue(random: Random, depth = 0): unknown {
  const kind = Math.floor(random() * (depth > 3 ? 6 : 9));
  switch (kind) {
    case 0:
      return null;
    case 1:
      return random() < 0.5;
    case 2:
      return wildNumber(random);
    case 3:
      return 'v'.repeat(Math.floor(random() * 40));
    case 4:
      return Buffer.alloc(Math.floor(random() * 64), 7);
    case 5:
      return undefined;
    case 6:
      return Array.from({ length: Math.floor(random() * 5) }, () => wildValue(random, depth + 1));
    case 7: {
      const map: Record<string, unknown> = {};
      for (let i = Math.floor(random() * 4); i > 0; i--) {
        // An own property even for `__proto__`, as a decoded map from the wire would have.
        Object.defineProperty(map, pick(random, ['a', 'type', 'id', '__proto__', 'constructor']), {
          value: wildValue(random, depth + 1),
          enumerable: true,
          configurable: true,
          writable: true,
        });
      }
      return map;
    }
    default:
      return new Date(Math.floor(random() * 2e12));
  }
}

/** A map shaped like a frame, with a random type and random (often wrong) field values. */
export function wildFrame(random: Random): Record<string, unknown> {
  const frame: Record<string, unknown> = { type: pick(random, FRAME_TYPES) };
  const fields = [
    'id',
    'name',
    'args',
    'timeoutMs',
    'stream',
    'bytes',
    'data',
    'value',
    'error',
    'functions',
    'endpoints',
    'names',
    'paths',
    'payload',
    'requestId',
    'protocol',
    'key',
  ];
  for (const field of fields) {
    if (random() < 0.45) continue;
    switch (field) {
      case 'id':
      case 'stream':
      case 'bytes':
      case 'timeoutMs':
      case 'protocol':
        frame[field] = wildNumber(random);
        break;
      case 'name':
        frame[field] = wildName(random);
        break;
      case 'args':
        frame[field] = random() < 0.8 ? [wildValue(random)] : wildValue(random);
        break;
      case 'functions':
        frame[field] = [{ name: wildName(random), allowClients: random() < 0.5 }];
        break;
      case 'endpoints':
        frame[field] = [
          { path: pick(random, ['/fz/:id', '/a*b', '', 'nope', '/fz/x']), methods: ['GET'] },
        ];
        break;
      case 'names':
        frame[field] = [wildName(random)];
        break;
      case 'error':
        frame[field] = random() < 0.7 ? { code: 'X', type: 'Error', message: 'm' } : 'oops';
        break;
      default:
        frame[field] = wildValue(random);
    }
  }
  return frame;
}

/** Bytes that are not a frame: random, truncated, text, or a valid value that is not a map. */
export function garbage(random: Random): Buffer {
  switch (Math.floor(random() * 5)) {
    case 0:
      return Buffer.from(
        Array.from({ length: 1 + Math.floor(random() * 64) }, () => random() * 256),
      );
    case 1: {
      const whole = encodeValue(wildFrame(random));
      return whole.subarray(0, Math.max(1, Math.floor(whole.length * random())));
    }
    case 2:
      return encodeValue([1, 2, 3]);
    case 3:
      return Buffer.concat([encodeValue(wildFrame(random)), Buffer.from([0xc1])]);
    default:
      return Buffer.from([0xdd, 0xff, 0xff, 0xff, 0xff]); // array of 4G items, no items
  }
}

/**
 * A frame of a valid shape with hostile values: calls to names that do not exist or may not be
 * called, answers and cancels for ids nothing waits for, stream frames for streams that do not
 * exist, registrations of bad names. The server must answer or ignore each and keep going.
 */
export function plausibleFrame(random: Random): Record<string, unknown> {
  const id = Math.floor(random() * 2 ** 32);
  const stream = Math.floor(random() * 2 ** 32);
  switch (Math.floor(random() * 10)) {
    case 0:
    case 1:
      return {
        type: 'call',
        id,
        name: pick(random, ['fz.fn', 'open.echo', 'sb.users.list', 'nope']),
        args: [wildValue(random)],
      };
    case 2:
      return { type: 'cancel', id };
    case 3:
      return { type: 'result', id, value: wildValue(random) };
    case 4:
      return { type: 'error', id, error: { code: 'SB_ERR_X', type: 'Error', message: 'no' } };
    case 5:
      return { type: 'chunk', stream, data: Buffer.alloc(Math.floor(random() * 256), 1) };
    case 6:
      return random() < 0.5 ? { type: 'end', stream } : { type: 'abort', stream };
    case 7:
      return { type: 'credit', stream, bytes: 1 + Math.floor(random() * 2 ** 20) };
    case 8:
      return { type: 'register', id, functions: [{ name: `fz.${Math.floor(random() * 20)}` }] };
    default:
      return { type: 'unregister', id, names: [`fz.${Math.floor(random() * 20)}`] };
  }
}

/**
 * One hostile message for an authenticated connection: mostly frames of a valid shape with
 * hostile values (answered or ignored, the connection kept), some frames with random fields,
 * and some bytes that are no frame at all (both close the connection with a code).
 */
export function hostileMessage(random: Random): { bytes: Buffer; frames: number } {
  const roll = random();
  if (roll < 0.03) return { bytes: garbage(random), frames: 1 };
  if (roll < 0.1) return { bytes: encodeValue(wildFrame(random)), frames: 1 };
  const count = 1 + Math.floor(random() * 4);
  const parts = Array.from({ length: count }, () => encodeValue(plausibleFrame(random)));
  return { bytes: Buffer.concat(parts), frames: count };
}

/** The decode bombs of issue 14, as raw message bytes of about `bytes` bytes. */
export function decodeBombs(bytes: number): Record<string, Buffer> {
  const count = bytes - 5;
  const header = Buffer.alloc(5);
  header[0] = 0xdd;
  header.writeUInt32BE(count, 1);
  const errorsCount = Math.floor((bytes - 5) / 3);
  const errorsHeader = Buffer.alloc(5);
  errorsHeader[0] = 0xdd;
  errorsHeader.writeUInt32BE(errorsCount, 1);
  return {
    'array of empty maps': Buffer.concat([header, Buffer.alloc(count, 0x80)]),
    'array of Error extensions': Buffer.concat([
      errorsHeader,
      Buffer.alloc(errorsCount * 3).fill(Buffer.from([0xd4, 0x65, 0xc0])),
    ]),
    'deep nesting': Buffer.concat([Buffer.alloc(bytes - 1, 0x91), Buffer.from([0xc0])]),
    'declared length lie': Buffer.from([0xdd, 0x7f, 0xff, 0xff, 0xff, 0xc0]),
  };
}
