import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  FrameBatcher,
  LARGE_FRAME_BYTES,
  MAX_FRAMES_PER_MESSAGE,
  type MessageSink,
} from '@switchboard/shared';

/** A sink that keeps every message, joining one given as parts. */
function collector(messages: Buffer[]): MessageSink {
  return {
    send: (message) => messages.push(message),
    sendParts: (parts, byteLength) => messages.push(Buffer.concat(parts, byteLength)),
  };
}

test('frames of one turn go out together, in order, at most MAX_FRAMES_PER_MESSAGE per message', async () => {
  const messages: Buffer[] = [];
  const batcher = new FrameBatcher(collector(messages), 1024 * 1024);
  const count = MAX_FRAMES_PER_MESSAGE + 3;
  for (let i = 0; i < count; i++) batcher.push(Buffer.from([i]));
  await new Promise((resolve) => setImmediate(resolve));
  assert.equal(messages.length, 2);
  assert.deepEqual(
    [...Buffer.concat(messages)],
    Array.from({ length: count }, (_, i) => i),
  );
});

test('a large frame is written alone and uncopied, after the frames queued before it', async () => {
  const messages: Buffer[] = [];
  const batcher = new FrameBatcher(collector(messages), 8 * 1024 * 1024);
  const large = Buffer.alloc(LARGE_FRAME_BYTES, 7);
  batcher.push(Buffer.from([1]));
  batcher.push(Buffer.from([2]));
  batcher.push(large);
  batcher.push(Buffer.from([3]));
  await new Promise((resolve) => setImmediate(resolve));
  assert.equal(messages.length, 3);
  assert.deepEqual([...messages[0]!], [1, 2]);
  assert.equal(messages[1], large);
  assert.deepEqual([...messages[2]!], [3]);
});

test('a frame beyond the peer limit is refused and nothing is queued', () => {
  const messages: Buffer[] = [];
  const batcher = new FrameBatcher(collector(messages), 4);
  assert.throws(() => batcher.push(Buffer.alloc(5)), { code: 'SB_ERR_PROTO_FRAME_TOO_LARGE' });
  batcher.flush();
  assert.equal(messages.length, 0);
});
