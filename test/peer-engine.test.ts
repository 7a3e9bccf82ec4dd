import assert from 'node:assert/strict';
import { test, type TestContext } from 'node:test';
import {
  PeerEngine,
  SwitchboardError,
  ValueStream,
  decodeServerMessage,
  decodeUplinkMessage,
  type MessageSink,
  type PeerCall,
  type PeerSettings,
  type ServerToUplinkFrame,
  type StreamedValue,
  type UplinkToServerFrame,
} from '@switchboard/shared';

// The protocol engine without sockets: two engines joined by an in-memory pipe, each side's
// messages decoded by the real gate of the other direction, as a server and an uplink would.

const SETTINGS: PeerSettings = {
  maxFrameBytes: 64 * 1024,
  streamWindowBytes: 16 * 1024,
  streamStallTimeoutMs: 5_000,
  maxMessageBytes: 32 * 1024 * 1024,
};

class TestCall implements PeerCall {
  sent = true;
  answer: StreamedValue | undefined;
  outgoingStream: number | undefined;
  readonly settled: Promise<unknown>;
  resolve!: (value: unknown) => void;
  reject!: (error: SwitchboardError) => void;
  constructor(
    readonly deadlineAt: number,
    readonly decodesLargeAnswer = true,
  ) {
    this.settled = new Promise((resolve, reject) => {
      this.resolve = resolve;
      this.reject = reject;
    });
  }
}

/** What one side does with the calls it gets: `fn(args)` answers them. */
type Serve = (args: unknown[], id: number) => unknown;

interface Side<Out extends UplinkToServerFrame | ServerToUplinkFrame> {
  engine: PeerEngine<Out, TestCall>;
  /** Every frame this side received, in order. */
  received: Array<UplinkToServerFrame | ServerToUplinkFrame>;
  cancelled: number[];
  serve: Serve;
  /** Calls `name` on the peer with `args`; settles with the answer. */
  call(
    args: unknown[],
    timeoutMs?: number,
    options?: { decodes?: boolean },
  ): TestCall & { id: number };
}

function side<Out extends UplinkToServerFrame | ServerToUplinkFrame>(
  decode: (bytes: Uint8Array) => Array<UplinkToServerFrame | ServerToUplinkFrame>,
  settings: PeerSettings,
): Side<Out> {
  const self = {} as Side<Out>;
  self.received = [];
  self.cancelled = [];
  self.serve = () => null;
  const handle = (frame: UplinkToServerFrame | ServerToUplinkFrame): void => {
    self.received.push(frame);
    switch (frame.type) {
      case 'call': {
        // Args above one frame arrive as a payload, decoded before the function runs.
        const args =
          frame.payload === undefined
            ? Promise.resolve(frame.args)
            : (self.engine.large.payload(frame.payload).decode() as Promise<unknown[]>);
        void args.then((values) => {
          let value: unknown;
          try {
            value = self.serve(values, frame.id);
          } catch (error) {
            const coded = error as SwitchboardError;
            self.engine.answerFrame({ type: 'error', id: frame.id, error: coded.toWire(false) });
            return;
          }
          if (value !== undefined) self.engine.answer(frame.id, value);
        });
        return;
      }
      case 'result':
      case 'error':
      case 'cancel':
      case 'chunk':
      case 'end':
      case 'credit':
      case 'abort':
      case 'large':
        self.engine.received(frame);
        return;
      default:
        return; // hello, welcome, …: not this test's business
    }
  };
  self.engine = new PeerEngine<Out, TestCall>(settings, {
    reassembled: (message) => decode(message).forEach(handle),
    cancelled: (id) => self.cancelled.push(id),
    peerError: () => undefined,
    streamRefused: (error) => assert.fail(`stream refused: ${error.message}`),
  });
  self.call = (args, timeoutMs = 5_000, options = {}) => {
    const id = self.engine.calls.allocateId();
    const call = new TestCall(performance.now() + timeoutMs, options.decodes ?? true);
    const sent = self.engine.push({ type: 'call', id, name: 'fn', args } as Out);
    if (sent.type === 'call') call.outgoingStream = sent.payload?.stream;
    self.engine.track(id, call);
    return Object.assign(call, { id });
  };
  (self as { deliver?: (message: Buffer) => void }).deliver = (message) =>
    decode(message).forEach(handle);
  return self;
}

/** An uplink-side and a server-side engine joined by an in-memory pipe (one hop per tick). */
function pair(t: TestContext, settings: PeerSettings = SETTINGS) {
  // Timers of the engine are unref()'d, as a socket keeps a real process alive.
  const alive = setInterval(() => undefined, 1_000);
  t.after(() => clearInterval(alive));
  const uplink = side<UplinkToServerFrame>(decodeServerMessage, settings);
  const server = side<ServerToUplinkFrame>(decodeUplinkMessage, settings);
  const wire = { toServer: 0, toUplink: 0 };
  const pipe = (
    to: Side<never> | Side<UplinkToServerFrame> | Side<ServerToUplinkFrame>,
    count: 'toServer' | 'toUplink',
  ): MessageSink => {
    const deliver = (to as unknown as { deliver: (message: Buffer) => void }).deliver;
    return {
      send: (message) => {
        wire[count] += message.byteLength;
        const copy = Buffer.from(message);
        setImmediate(() => deliver(copy));
      },
      sendParts: (parts, byteLength) => {
        wire[count] += byteLength;
        const joined = Buffer.concat(parts, byteLength);
        setImmediate(() => deliver(joined));
      },
    };
  };
  uplink.engine.attach(pipe(server, 'toServer'));
  server.engine.attach(pipe(uplink, 'toUplink'));
  return { uplink, server, wire };
}

test('a call is answered with its value, an error with its code, both directions', async (t) => {
  const { uplink, server } = pair(t);
  server.serve = ([a, b]) => (a as number) + (b as number);
  uplink.serve = ([name]) => {
    throw new SwitchboardError('SB_ERR_NO_SUCH_FUNCTION', `no ${String(name)}`);
  };
  assert.equal(await uplink.call([2, 3]).settled, 5);
  await assert.rejects(server.call(['x']).settled, { code: 'SB_ERR_NO_SUCH_FUNCTION' });
  assert.equal(uplink.engine.calls.size + server.engine.calls.size, 0);
});

test('withdrawing a call tells the peer and settles it at once; a late answer is dropped', async (t) => {
  const { uplink, server } = pair(t);
  let answer: ((value: unknown) => void) | undefined;
  server.serve = (_args, id) => {
    answer = (value) => server.engine.answer(id, value);
    return undefined; // answered later
  };
  const call = uplink.call([1]);
  await new Promise((resolve) => setTimeout(resolve, 10));
  assert.ok(uplink.engine.withdraw(call.id, new SwitchboardError('SB_ERR_CALL_CANCELLED')));
  await assert.rejects(call.settled, { code: 'SB_ERR_CALL_CANCELLED' });
  await new Promise((resolve) => setTimeout(resolve, 10));
  assert.deepEqual(server.cancelled, [call.id]);
  answer?.('too late');
  await new Promise((resolve) => setTimeout(resolve, 10));
  assert.equal(uplink.engine.calls.size, 0);
});

test('a deadline that passes fails the call with SB_ERR_CALL_TIMEOUT and cancels it at the peer', async (t) => {
  const { uplink, server } = pair(t);
  server.serve = () => undefined; // never answers
  const call = uplink.call([1], 30);
  await assert.rejects(call.settled, { code: 'SB_ERR_CALL_TIMEOUT' });
  await new Promise((resolve) => setTimeout(resolve, 10));
  assert.deepEqual(server.cancelled, [call.id]);
});

test('progressive results flow under credit: the sender never runs more than a window ahead', async (t) => {
  const { uplink, server } = pair(t, { ...SETTINGS, streamWindowBytes: 8 * 1024 });
  const part = 'x'.repeat(1000);
  let produced = 0;
  server.serve = () =>
    ValueStream.fromValues(
      (async function* () {
        for (let i = 0; i < 200; i++) {
          produced++;
          yield await Promise.resolve(`${i}:${part}`);
        }
      })(),
    );
  const result = await uplink.call([]).settled;
  assert.ok(result instanceof ValueStream);
  let read = 0;
  for await (const value of result) {
    assert.equal((value as string).split(':')[0], String(read));
    read++;
    // Each part is about 1 KiB on the wire: the producer stays within a window of the reader.
    assert.ok(produced - read <= 12, `produced ${produced}, read ${read}`);
    if (read % 20 === 0) await new Promise((resolve) => setTimeout(resolve, 1));
  }
  assert.equal(read, 200);
  // One chunk per part, and the reader's credit went back many times as it read.
  assert.ok(uplink.received.filter((frame) => frame.type === 'chunk').length >= 200);
  assert.ok(server.received.filter((frame) => frame.type === 'credit').length >= 10);
});

test('values above one frame travel as streamed payloads both ways: args, and the result', async (t) => {
  const { uplink, server, wire } = pair(t);
  const big = Buffer.alloc(3 * 1024 * 1024, 7);
  server.serve = ([value]) => Buffer.concat([value as Uint8Array, Buffer.from([1])]);
  const call = uplink.call([big]);
  assert.ok(call.outgoingStream !== undefined, 'the args went as a stream');
  const answer = (await call.settled) as Uint8Array;
  assert.equal(answer.byteLength, big.byteLength + 1);
  assert.equal(answer[answer.byteLength - 1], 1);
  assert.ok(wire.toServer > big.byteLength && wire.toUplink > big.byteLength);
  // No message on the wire was above the frame limit.
  const frames = [...uplink.received, ...server.received];
  assert.ok(frames.some((frame) => frame.type === 'call' && frame.payload !== undefined));
  assert.ok(frames.some((frame) => frame.type === 'result' && frame.payload !== undefined));
});

test('a large answer is handed on undecoded when the call forwards it', async (t) => {
  const { uplink, server } = pair(t);
  server.serve = () => Buffer.alloc(200 * 1024, 3);
  const forwarded = (await uplink.call([], 5_000, { decodes: false }).settled) as StreamedValue;
  assert.equal(typeof forwarded.decode, 'function');
  assert.equal(((await forwarded.decode()) as Uint8Array).byteLength, 200 * 1024);
});

test('a frame above the limit that carries no value goes whole as a large message', async (t) => {
  const { uplink, server } = pair(t);
  const body = Buffer.alloc(300 * 1024, 9);
  server.engine.push({
    type: 'request',
    id: 7,
    endpoint: '/x',
    request: {
      method: 'POST',
      path: '/x',
      params: {},
      query: '',
      headers: {},
      body,
      remoteAddress: '127.0.0.1',
      appOrigin: 'http://127.0.0.1',
      apiOrigin: 'http://127.0.0.1/_/api',
    },
  });
  await new Promise((resolve) => setTimeout(resolve, 100));
  const large = uplink.received.find((frame) => frame.type === 'large');
  const request = uplink.received.find((frame) => frame.type === 'request');
  assert.ok(large, 'announced with a large frame');
  assert.ok(request && request.type === 'request', 'delivered after reassembly');
  assert.equal((request.request.body as Uint8Array).byteLength, body.byteLength);
});

test('a connection that ends fails every call in flight and every stream, with the given codes', async (t) => {
  const { uplink, server } = pair(t);
  server.serve = () => undefined; // never answers
  const calls = [uplink.call([1]), uplink.call([2]), uplink.call([3])];
  // All three reach the server before the connection ends (the pipe delivers a turn later).
  for (let waited = 0; server.received.length < 3 && waited < 2000; waited += 5)
    await new Promise((resolve) => setTimeout(resolve, 5));
  assert.equal(server.received.length, 3);
  const incoming = uplink.engine.receiver.open(99);
  const reading = (async () => {
    for await (const chunk of incoming.readable()) void chunk;
  })();
  uplink.engine.disconnect(new SwitchboardError('SB_ERR_CONNECTION_LOST', 'stream'));
  uplink.engine.failCalls(new SwitchboardError('SB_ERR_UPLINK_DISCONNECTED', 'calls'));
  for (const call of calls)
    await assert.rejects(call.settled, { code: 'SB_ERR_UPLINK_DISCONNECTED' });
  await assert.rejects(reading, { code: 'SB_ERR_CONNECTION_LOST' });
  assert.ok(uplink.engine.quiet);
  assert.equal(uplink.engine.attached, false);
  // Detached: nothing more goes out.
  const before = server.received.length;
  uplink.engine.send({ type: 'cancel', id: 1 });
  await new Promise((resolve) => setTimeout(resolve, 10));
  assert.equal(server.received.length, before);
});

test('an answer that cannot be encoded reaches the caller as a bare coded error', async (t) => {
  const { uplink, server } = pair(t);
  server.serve = () => ({ label: Symbol('x') }); // a symbol cannot be encoded
  await assert.rejects(uplink.call([]).settled, { code: 'SB_ERR_VALUE_NOT_SERIALIZABLE' });
});
