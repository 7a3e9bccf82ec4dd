import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { SwitchboardError } from '@switchboard/shared';
import {
  LargeMessages,
  StreamReceiver,
  StreamSender,
  encodeValue,
  type ServerToUplinkFrame,
  type AbortFrame,
  type ChunkFrame,
  type CreditFrame,
  type EndFrame,
} from '@switchboard/shared';

/** A sender and a receiver joined back to back (frames delivered on the next tick). */
function pair(window: number, options: { stallMs?: number; maxStreams?: number } = {}) {
  const sent: Array<ChunkFrame | EndFrame> = [];
  const receiver: StreamReceiver = new StreamReceiver(
    {
      send: (frame: CreditFrame | AbortFrame) =>
        setImmediate(() =>
          frame.type === 'credit'
            ? sender.credit(frame.stream, frame.bytes)
            : sender.abort(frame.stream),
        ),
    },
    window,
    options.stallMs ?? 10_000,
    options.maxStreams,
  );
  const sender: StreamSender = new StreamSender(
    {
      send: (frame) => {
        sent.push(frame);
        setImmediate(() => receiver.received(frame));
      },
    },
    window,
  );
  return { sender, receiver, sent };
}

test('the sender never has more than one window unacknowledged; credit follows flushing', async () => {
  const { sender, receiver, sent } = pair(64 * 1024);
  let produced = 0;
  async function* source() {
    for (let i = 0; i < 64; i++) {
      produced++;
      await Promise.resolve();
      yield Buffer.alloc(16 * 1024, i);
    }
  }
  const id = sender.start(source());
  const pending: Array<() => void> = [];
  let received = 0;
  let ended = false;
  receiver.open(id).attach({
    write: (data, flushed) => {
      received += data.byteLength;
      pending.push(flushed); // nothing flushed yet: a stalled consumer
    },
    end: () => (ended = true),
    fail: (error) => assert.fail(error),
  });
  await new Promise((resolve) => setTimeout(resolve, 50));
  assert.equal(received, 64 * 1024, 'exactly one window arrives while nothing is flushed');
  assert.ok(produced <= 6, `the source was pulled ${produced} times for a 4-piece window`);
  const chunks = sent.filter((frame) => frame.type === 'chunk').length;
  // Flushing returns credit and the rest follows.
  while (!ended) {
    for (const flushed of pending.splice(0)) flushed();
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
  assert.equal(received, 64 * 16 * 1024);
  assert.ok(chunks >= 4);
});

test('a sender that overruns its credit, too many streams, and a stalled stream are refused', async () => {
  const errors: string[] = [];
  const target = {
    write: (_data: Uint8Array, flushed: () => void) => flushed(),
    end: () => errors.push('end'),
    fail: (error: SwitchboardError) => errors.push(error.code),
  };
  // Overrun: chunks pushed straight at the receiver beyond its window.
  const aborts: number[] = [];
  const strict = new StreamReceiver(
    { send: (frame) => frame.type === 'abort' && aborts.push(frame.stream) },
    1024,
    10_000,
    2,
  );
  strict.open(7).attach({ ...target, write: () => undefined });
  strict.received({ type: 'chunk', stream: 7, data: Buffer.alloc(1024) });
  strict.received({ type: 'chunk', stream: 7, data: Buffer.alloc(1) });
  assert.deepEqual(aborts, [7]);
  assert.deepEqual(errors, ['SB_ERR_STREAM_CREDIT_EXCEEDED']);
  // Limit: the third open stream is refused.
  strict.open(1).attach(target);
  strict.open(2).attach(target);
  strict.open(3).attach(target);
  assert.deepEqual(aborts, [7, 3]);
  assert.equal(errors.at(-1), 'SB_ERR_STREAM_LIMIT');
  // Stall: credit available, nothing sent.
  const stalling = new StreamReceiver({ send: () => undefined }, 1024, 50);
  stalling.open(9).attach(target);
  await new Promise((resolve) => setTimeout(resolve, 120));
  assert.equal(errors.at(-1), 'SB_ERR_STREAM_STALLED');
});

test('a value streamed as a payload: decoded whole, or discarded mid-way (sender stopped, budget freed)', async () => {
  const window = 64 * 1024;
  const { sender, receiver } = pair(window);
  const limit = 5 * 1024 * 1024;
  const from = new LargeMessages(sender, receiver, { reassembled: () => undefined }, limit);
  const to = new LargeMessages(sender, receiver, { reassembled: () => undefined }, limit);
  const send = (value: Buffer) => {
    const frame: ServerToUplinkFrame = { type: 'result', id: 1, value };
    const sent = from.oversized(frame, encodeValue(frame));
    assert.ok(sent.type === 'result' && sent.payload !== undefined && !('value' in sent));
    return to.payload(sent.payload);
  };
  const big = Buffer.alloc(4 * 1024 * 1024, 7);

  // Given up while it arrives: the collection rejects, the sender's stream is stopped.
  const dropped = send(big);
  const outcome = dropped.decode().then(
    () => 'decoded',
    (error: SwitchboardError) => error.code,
  );
  // Frames cross on the next tick here, so 4 MiB at a 64 KiB window take many ticks.
  for (let i = 0; i < 4; i++) await new Promise((resolve) => setImmediate(resolve));
  dropped.discard();
  assert.equal(await outcome, 'SB_ERR_CALL_CANCELLED');
  await new Promise((resolve) => setTimeout(resolve, 20));
  assert.equal(sender.size, 0, 'the sender stopped');

  // Its share of the budget is free again: another 4 MiB (the limit is 5) arrives whole.
  const kept = send(big);
  assert.deepEqual(await kept.decode(), big);
});
