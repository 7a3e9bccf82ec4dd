import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { test } from 'node:test';
import { Media } from '@switchboard/server';
import { connect } from '@switchboard/uplink';
import {
  AnvilError,
  BlobMedia,
  connectAnvil,
  randomId,
  type AnvilClient,
  type Json,
} from './helpers/anvil-client.ts';
import { SERVER_KEY, startServer } from './helpers/server.ts';

// Calls both ways between an Anvil uplink (test/helpers/anvil-client.ts) and app code, native
// uplinks and HTTP callers: arguments, kwargs, errors, dates and numbers, media chunks.

/** The frames the server sent about message `id` (answers and errors), once one arrived. */
async function answersTo(anvil: AnvilClient, id: string): Promise<Json[]> {
  // The server handles messages in order: once this echo is answered, `id` was handled.
  await anvil.call('anvil.private.echo', ['after']);
  return anvil.frames.filter((frame) => frame.id === id);
}

test('calls both ways: Anvil → app code and native uplinks (kwargs as a last object, dates); app, native and /_/call → Anvil; errors keep their type', async (t) => {
  const { sb, url, wsUrl } = await startServer(t);
  const seen: unknown[][] = [];
  sb.callable('appAdd', (...args: unknown[]) => {
    seen.push(args);
    const [a, b, options] = args as [number, number, { scale: number }];
    return (a + b) * options.scale;
  });
  sb.callable('appNextDay', (day: Date) => new Date(day.getTime() + 86_400_000));
  sb.callable('appFails', () => {
    throw new RangeError('out of range');
  });
  const native = await connect({ url, key: SERVER_KEY, reconnect: false });
  t.after(() => native.close());
  native.callable('nativeTwice', (x: number) => x * 2);
  await native.synced();
  const anvil = await connectAnvil(t, wsUrl, SERVER_KEY, {
    functions: {
      greet: ([name], kwargs) =>
        `${(kwargs.greeting as string | undefined) ?? 'hello'} ${String(name)}`,
      explode: () => {
        throw new AnvilError('ValueError', 'bad thing');
      },
    },
  });

  assert.equal(await anvil.call('appAdd', [1, 2], { scale: 10 }), 30);
  assert.deepEqual(seen, [[1, 2, { scale: 10 }]]);
  assert.equal(await anvil.call('nativeTwice', [21]), 42);
  const next = await anvil.call('appNextDay', [new Date('2024-05-06T07:08:09.123Z')]);
  assert.deepEqual(next, new Date('2024-05-07T07:08:09.123Z'));
  const answer = anvil.frames.at(-1)!;
  assert.equal(answer.response, null);
  assert.deepEqual(answer.objects, [
    { path: ['response'], type: ['DateTime'], value: '2024-05-07 07:08:09.123000+0000' },
  ]);
  await assert.rejects(anvil.call('appFails'), (error: AnvilError) => {
    assert.equal(error.type, 'RangeError');
    assert.equal(error.message, 'out of range');
    assert.equal(error.raw.code, 'SB_ERR_REMOTE_ERROR');
    return true;
  });
  await assert.rejects(anvil.call('nowhere'), (error: AnvilError) => {
    assert.equal(error.type, 'anvil.server.NoServerFunctionError');
    assert.equal(error.raw.code, 'SB_ERR_NO_SUCH_FUNCTION');
    return true;
  });

  assert.equal(await sb.call('greet', 'app'), 'hello app');
  assert.equal(await native.call('greet', 'native'), 'hello native');
  const viaHttp = await fetch(`${url}/_/call/greet`, {
    method: 'POST',
    headers: { authorization: `Bearer ${SERVER_KEY}`, 'content-type': 'application/json' },
    body: '["http"]',
  });
  assert.equal(viaHttp.status, 200);
  assert.equal(await viaHttp.json(), 'hello http');
  for (const call of [() => sb.call('explode'), () => native.call('explode')])
    await assert.rejects(call(), {
      code: 'SB_ERR_REMOTE_ERROR',
      remoteType: 'ValueError',
      message: 'bad thing',
    });
  // Anvil → Anvil, through the server: the raiser's type reaches the other script.
  const other = await connectAnvil(t, wsUrl, SERVER_KEY);
  assert.equal(await other.call('greet', ['anvil']), 'hello anvil');
  await assert.rejects(other.call('explode'), (error: AnvilError) => {
    assert.deepEqual([error.type, error.message], ['ValueError', 'bad thing']);
    assert.equal(error.raw.code, 'SB_ERR_REMOTE_ERROR');
    return true;
  });
  // What the uplink was sent: every field the library needs, never null.
  for (const frame of anvil.calls) {
    assert.equal(frame['call-stack-id'], frame.id);
    assert.ok(Array.isArray(frame.args) && Array.isArray(frame.objects));
    assert.equal(typeof frame.kwargs, 'object');
    assert.ok((frame['call-stack'] as unknown[]).length > 0);
    assert.equal(typeof frame.client, 'object');
    assert.equal(typeof frame['app-info'], 'object');
    assert.ok(frame.kwargs !== null && frame.client !== null && frame['app-info'] !== null);
  }
  assert.equal(await anvil.call('anvil.private.echo', ['keep-alive'], {}), 'keep-alive');
  assert.deepEqual(anvil.violations, []);
});

test('media of 5 MiB both ways (app code, a native uplink, HTTP) travel in ≤ 64 KiB chunks and arrive intact', async (t) => {
  // maxMessageBytes keeps its default (256 MiB: what one connection may hold at once);
  // maxFrameBytes is lowered to 1 MiB so that the native uplink's 5 MiB travel as streams.
  const { sb, url, wsUrl } = await startServer(t, { maxFrameBytes: 1024 * 1024 });
  const size = 5 * 1024 * 1024 + 123;
  const sha = (bytes: Uint8Array) => createHash('sha256').update(bytes).digest('hex');
  const reversed = (bytes: Uint8Array) => Buffer.from(bytes).reverse();
  sb.callable('appReverse', (media: Media) => {
    assert.equal(media.contentType, 'application/x-up');
    return new Media('application/x-down', reversed(media.bytes), 'back.bin');
  });
  const native = await connect({ url, key: SERVER_KEY, reconnect: false });
  t.after(() => native.close());
  native.callable('nativeReverse', (media: Media) => new Media('x/n', reversed(media.bytes)));
  await native.synced();
  const anvil = await connectAnvil(t, wsUrl, SERVER_KEY, {
    functions: {
      reverse: ([media]) => {
        const { bytes, contentType, name } = media as BlobMedia;
        return { sha: sha(bytes), media: new BlobMedia(contentType, reversed(bytes), name) };
      },
    },
    endpoints: [{ path: '/upload', handler: (request) => request.body }],
  });

  // Server → Anvil → server, from app code and from a native uplink.
  const sent = randomBytes(size);
  for (const caller of [sb, native]) {
    const result = (await caller.call('reverse', new Media('image/png', sent, 'big.png'))) as {
      sha: string;
      media: Media;
    };
    assert.equal(result.sha, sha(sent), 'the uplink got the bytes sent');
    assert.equal(result.media.contentType, 'image/png');
    assert.equal(result.media.name, 'big.png');
    assert.equal(result.media.bytes.byteLength, size);
    assert.ok(Buffer.from(result.media.bytes).equals(reversed(sent)));
  }
  assert.equal(anvil.binarySizes.length, 2 * Math.ceil(size / 65_536));
  assert.ok(anvil.binarySizes.every((bytes) => bytes <= 65_536));

  // Anvil → server → Anvil: to app code and to a native uplink.
  const up = randomBytes(size);
  const down = (await anvil.call('appReverse', [
    new BlobMedia('application/x-up', up),
  ])) as BlobMedia;
  assert.ok(down instanceof BlobMedia);
  assert.equal(down.contentType, 'application/x-down');
  assert.equal(down.name, 'back.bin');
  assert.ok(down.bytes.equals(reversed(up)));
  const viaNative = (await anvil.call('nativeReverse', [new BlobMedia('a/b', up)])) as BlobMedia;
  assert.equal(viaNative.contentType, 'x/n');
  assert.ok(viaNative.bytes.equals(reversed(up)));

  // An HTTP body of 5 MiB in, the same Media out as the answer.
  const uploaded = await fetch(`${url}/_/api/upload`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-big' },
    body: sent,
  });
  assert.equal(uploaded.headers.get('content-type'), 'application/x-big');
  assert.ok(Buffer.from(await uploaded.arrayBuffer()).equals(sent));
  assert.ok(anvil.binarySizes.every((bytes) => bytes <= 65_536));
  assert.deepEqual(anvil.violations, []);
});

test('values: datetimes with an offset, dates, Long and Float descriptors both ways', async (t) => {
  const { sb, wsUrl } = await startServer(t);
  sb.callable('appEcho', (...args: unknown[]) => args);
  sb.callable('appSpecial', () => [
    Infinity,
    -Infinity,
    NaN,
    2n ** 70n,
    new Date(Date.UTC(2024, 0, 2, 3, 4, 5, 6)),
  ]);
  const anvil = await connectAnvil(t, wsUrl, SERVER_KEY);
  // By hand, as the library writes them (SRV:1033-1079): a +0200 datetime, a date, 2**40, -inf.
  const id = randomId();
  anvil.sendJson({
    type: 'CALL',
    id,
    command: 'appEcho',
    args: [null, null, null, null],
    kwargs: {},
    'call-stack-id': 'outbound-values',
    'originating-call': null,
    objects: [
      { path: ['args', 0], type: ['DateTime'], value: '2024-05-06 07:08:09.123456+0200' },
      { path: ['args', 1], type: ['Date'], value: '2024-05-06' },
      { path: ['args', 2], type: ['Long'], value: '1099511627776' },
      { path: ['args', 3], type: ['Float'], value: '-Infinity' },
    ],
  });
  const [echoed] = await answersTo(anvil, id);
  // JavaScript dates hold milliseconds: the microseconds beyond them are lost, the offset kept.
  assert.deepEqual(echoed, {
    id,
    response: [null, null, 1099511627776, null],
    objects: [
      { path: ['response', 0], type: ['DateTime'], value: '2024-05-06 05:08:09.123000+0000' },
      { path: ['response', 1], type: ['DateTime'], value: '2024-05-06 00:00:00.000000+0000' },
      { path: ['response', 3], type: ['Float'], value: '-Infinity' },
    ],
  });
  assert.deepEqual(await anvil.call('appSpecial'), [
    Infinity,
    -Infinity,
    NaN,
    2n ** 70n,
    new Date(Date.UTC(2024, 0, 2, 3, 4, 5, 6)),
  ]);
  const special = anvil.frames.at(-1)!;
  assert.deepEqual(
    (special.objects as Json[]).map((object) => [object.type, object.value]),
    [
      [['Float'], 'Infinity'],
      [['Float'], '-Infinity'],
      [['Float'], 'NaN'],
      [['Long'], (2n ** 70n).toString()],
      [['DateTime'], '2024-01-02 03:04:05.006000+0000'],
    ],
  );
  assert.deepEqual(anvil.violations, []);
});

test('media chunk pairs may have other messages between them; an empty media is one empty chunk; MEDIA_ERROR fails that call only', async (t) => {
  const { sb, wsUrl } = await startServer(t);
  sb.callable('appLength', (media: Media) => [media.contentType, media.name ?? null, media.length]);
  const anvil = await connectAnvil(t, wsUrl, SERVER_KEY, {
    functions: {
      emptyBack: () => new BlobMedia('text/plain', Buffer.alloc(0), 'empty.txt'),
    },
  });
  const call = (id: string) =>
    anvil.sendJson({
      type: 'CALL',
      id,
      command: 'appLength',
      args: [null],
      kwargs: {},
      'call-stack-id': 'outbound-media',
      'originating-call': null,
      objects: [
        { path: ['args', 0], type: ['DataMedia'], id: 'm1', 'mime-type': 'a/b', name: 'f' },
      ],
    });
  const chunk = (requestId: string, chunkIndex: number, lastChunk: boolean, bytes: Buffer) => {
    anvil.sendJson({ type: 'CHUNK_HEADER', requestId, mediaId: 'm1', chunkIndex, lastChunk });
    anvil.ws.send(bytes);
  };
  // The library holds its send lock for one header + binary pair only: an answer or a call
  // (here a keepalive) may come between two pairs of one media.
  const interleaved = randomId();
  call(interleaved);
  chunk(interleaved, 0, false, Buffer.alloc(65_536, 1));
  assert.equal(await anvil.call('anvil.private.echo', ['keep-alive']), 'keep-alive');
  chunk(interleaved, 1, true, Buffer.alloc(10, 2));
  assert.deepEqual((await answersTo(anvil, interleaved))[0]!.response, ['a/b', 'f', 65_546]);

  const empty = randomId();
  call(empty);
  chunk(empty, 0, true, Buffer.alloc(0));
  assert.deepEqual((await answersTo(anvil, empty))[0]!.response, ['a/b', 'f', 0]);
  const back = (await sb.call('emptyBack', new Media('x/y', new Uint8Array(0)))) as Media;
  assert.deepEqual([back.contentType, back.name, back.length], ['text/plain', 'empty.txt', 0]);
  const emptyArg = anvil.calls.at(-1)!;
  assert.deepEqual((emptyArg.objects as Json[])[0]!.type, ['DataMedia']);
  assert.ok(anvil.binarySizes.includes(0), 'the empty argument came as one empty chunk');

  const failed = randomId();
  call(failed);
  chunk(failed, 0, false, Buffer.alloc(100));
  anvil.sendJson({
    type: 'MEDIA_ERROR',
    requestId: failed,
    mediaIds: ['m1'],
    cause: { type: 'IOError', message: 'the file went away' },
  });
  const [error] = await answersTo(anvil, failed);
  assert.match(String((error!.error as Json).message), /the file went away/);
  assert.equal(anvil.ws.readyState, anvil.ws.OPEN);
  assert.deepEqual(anvil.violations, []);
});
