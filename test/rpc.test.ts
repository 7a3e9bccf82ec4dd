import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { getEventListeners } from 'node:events';
import { test } from 'node:test';
import { Media, SwitchboardError, getCallContext } from '@switchboard/server';
import { connect } from '@switchboard/uplink';
import { spawnUplink } from './helpers/child.ts';
import { CLIENT_KEY, SERVER_KEY, startServer } from './helpers/server.ts';

test('app code calls in-process functions with a call context', async (t) => {
  const { sb } = await startServer(t);
  sb.callable('mul', (a: number, b: number) => {
    const { caller, deadline, name } = getCallContext();
    assert.equal(caller.kind, 'app');
    assert.equal(name, 'mul');
    assert.ok(deadline !== undefined && deadline > Date.now());
    return a * b;
  });
  assert.equal(await sb.call('mul', 6, 7), 42);
  await assert.rejects(sb.call('nothing'), { code: 'SB_ERR_NO_SUCH_FUNCTION' });
  assert.throws(() => sb.callable('bad name', () => 1), { code: 'SB_ERR_NAME_INVALID' });
});

test('app code, other uplinks and child uplinks call each other through the server', async (t) => {
  const { sb, url } = await startServer(t);
  sb.callable('appSquare', (x: number) => x * x);
  await spawnUplink(t, url, SERVER_KEY, { SB_NAME: 'provider' });

  assert.equal(await sb.call('add', 2, 3), 5);

  const caller = await connect({ url, key: SERVER_KEY, name: 'caller' });
  t.after(() => caller.close());
  assert.equal(await caller.call('add', 2, 3), 5);
  assert.equal(await caller.call('appSquare', 9), 81);
  // A child uplink calling, through the server, a function registered by app code.
  assert.equal(await sb.call('callOther', 'appSquare', 4), 16);

  const seen = (await caller.call('context')) as {
    caller: Record<string, unknown>;
    fn: string;
    hasDeadline: boolean;
  };
  assert.equal(seen.fn, 'context');
  assert.equal(seen.hasDeadline, true);
  assert.equal(seen.caller.kind, 'uplink');
  assert.equal(seen.caller.keyName, 'test-server');
  assert.equal(seen.caller.uplinkName, 'caller');
  assert.equal(((await sb.call('context')) as { caller: { kind: string } }).caller.kind, 'app');
});

test('values keep their types through an uplink: bytes, Date, BigInt, Media, undefined vs null', async (t) => {
  const { sb, url } = await startServer(t);
  await spawnUplink(t, url, SERVER_KEY);
  const value = {
    bytes: new Uint8Array([1, 2, 3]),
    when: new Date(1_700_000_000_123),
    big: 123_456_789_012_345_678_901_234_567_890n,
    media: new Media('text/csv', 'a,b\n1,2\n', 'data.csv'),
    nothing: null,
    missing: undefined,
    list: [undefined, null],
  };
  const back = (await sb.call('echo', value)) as typeof value;
  assert.deepEqual([...back.bytes], [1, 2, 3]);
  assert.equal(back.when.getTime(), 1_700_000_000_123);
  assert.equal(back.big, value.big);
  assert.ok(back.media instanceof Media);
  assert.equal(back.media.text(), 'a,b\n1,2\n');
  assert.equal(back.media.name, 'data.csv');
  assert.equal(back.nothing, null);
  assert.ok(Object.hasOwn(back, 'missing') && back.missing === undefined);
  assert.deepEqual(back.list, [undefined, null]);
  assert.equal(await sb.call('echo', undefined), undefined);
  assert.equal(await sb.call('echo', null), null);
});

test('an exception in a handler reaches the caller with its remote type, message and (for trusted callers) stack', async (t) => {
  const { sb, url } = await startServer(t);
  await spawnUplink(t, url, SERVER_KEY);
  const caller = await connect({ url, key: CLIENT_KEY });
  t.after(() => caller.close());
  const trusted = await connect({ url, key: SERVER_KEY });
  t.after(() => trusted.close());
  for (const [call, withStack] of [
    [() => sb.call('fail'), true],
    [() => trusted.call('fail'), true],
    // A client key is not shown how the other side is built.
    [() => caller.call('fail'), false],
  ] as const) {
    await assert.rejects(call(), (error: unknown) => {
      assert.ok(error instanceof SwitchboardError);
      assert.equal(error.code, 'SB_ERR_REMOTE_ERROR');
      assert.equal(error.remoteType, 'TypeError');
      assert.equal(error.message, 'boom');
      if (withStack) assert.match(error.remoteStack ?? '', /uplink-child\.ts/);
      else assert.equal(error.remoteStack, undefined);
      return true;
    });
  }
});

test('unknown functions are SB_ERR_NO_SUCH_FUNCTION for every kind of caller', async (t) => {
  const { sb, url } = await startServer(t);
  const caller = await connect({ url, key: SERVER_KEY });
  t.after(() => caller.close());
  await assert.rejects(sb.call('missing'), { code: 'SB_ERR_NO_SUCH_FUNCTION' });
  await assert.rejects(caller.call('missing'), { code: 'SB_ERR_NO_SUCH_FUNCTION' });
  await assert.rejects(caller.call('not a name'), { code: 'SB_ERR_NAME_INVALID' });
});

test('a deadline fails the call with SB_ERR_CALL_TIMEOUT and cancels the handler (its signal fires)', async (t) => {
  const { sb, url } = await startServer(t, { callTimeoutMs: 300 });
  const child = await spawnUplink(t, url, SERVER_KEY);
  // Per-call deadline from app code.
  const started = Date.now();
  await assert.rejects(sb.callWithOptions('hang', [], { timeoutMs: 150 }), {
    code: 'SB_ERR_CALL_TIMEOUT',
  });
  assert.ok(Date.now() - started < 2000);
  await child.waitFor(/^aborted hang SB_ERR_CALL_CANCELLED$/);
  // The server's default deadline (callTimeoutMs) applies to calls that name none.
  await assert.rejects(sb.call('hang'), { code: 'SB_ERR_CALL_TIMEOUT' });
  await child.waitForCount(/^aborted hang/, 2);
  // Per-call deadline from another uplink, enforced by the calling client too.
  const caller = await connect({ url, key: SERVER_KEY });
  t.after(() => caller.close());
  await assert.rejects(caller.callWithOptions('hang', [], { timeoutMs: 100 }), {
    code: 'SB_ERR_CALL_TIMEOUT',
  });
  await child.waitForCount(/^aborted hang/, 3);
});

test('a caller aborting its signal cancels the remote handler', async (t) => {
  const { sb, url } = await startServer(t);
  const child = await spawnUplink(t, url, SERVER_KEY);
  const caller = await connect({ url, key: SERVER_KEY });
  t.after(() => caller.close());
  const controller = new AbortController();
  const pending = caller.callWithOptions('hang', [], { signal: controller.signal });
  await child.waitFor(/^started hang$/);
  controller.abort();
  await assert.rejects(pending, { code: 'SB_ERR_CALL_CANCELLED' });
  await child.waitFor(/^aborted hang SB_ERR_CALL_CANCELLED$/);

  const appController = new AbortController();
  const fromApp = sb.callWithOptions('hang', [], { signal: appController.signal });
  await child.waitForCount(/^started hang$/, 2);
  appController.abort();
  await assert.rejects(fromApp, { code: 'SB_ERR_CALL_CANCELLED' });
  await child.waitForCount(/^aborted hang SB_ERR_CALL_CANCELLED$/, 2);
});

test('a provider killed with SIGKILL fails every call in flight to it at once', async (t) => {
  const { sb, url } = await startServer(t, { callTimeoutMs: 60_000 });
  const child = await spawnUplink(t, url, SERVER_KEY);
  const caller = await connect({ url, key: SERVER_KEY });
  t.after(() => caller.close());
  const calls = [
    sb.call('hang'),
    sb.call('hang'),
    sb.call('hang'),
    caller.call('hang'),
    caller.call('hang'),
  ].map((p) =>
    p.then(
      () => 'resolved',
      (error: SwitchboardError) => error.code,
    ),
  );
  await child.waitForCount(/^started hang$/, 5);
  const killedAt = Date.now();
  child.process.kill('SIGKILL');
  const outcomes = await Promise.all(calls);
  assert.deepEqual(outcomes, Array(5).fill('SB_ERR_UPLINK_DISCONNECTED'));
  assert.ok(Date.now() - killedAt < 5000, 'failed at once, not at the 60 s deadline');
  // Its registrations left with it.
  await assert.rejects(sb.call('add', 1, 2), { code: 'SB_ERR_NO_SUCH_FUNCTION' });
});

test('two providers share the load; least in flight wins and idle ones take turns', async (t) => {
  const { sb, url } = await startServer(t);
  await spawnUplink(t, url, SERVER_KEY, { SB_NAME: 'one' });
  await spawnUplink(t, url, SERVER_KEY, { SB_NAME: 'two' });
  const concurrent = (await Promise.all(
    Array.from({ length: 20 }, () => sb.call('slow', 100)),
  )) as string[];
  const count = (names: string[], who: string) => names.filter((n) => n === who).length;
  assert.equal(count(concurrent, 'one'), 10, `concurrent split ${concurrent.join(',')}`);
  assert.equal(count(concurrent, 'two'), 10);
  const sequential: string[] = [];
  for (let i = 0; i < 10; i++) sequential.push((await sb.call('whoami')) as string);
  assert.ok(count(sequential, 'one') >= 3 && count(sequential, 'two') >= 3, sequential.join(','));
});

test('an in-process function and an uplink serving one name share calls', async (t) => {
  const { sb, url } = await startServer(t);
  await spawnUplink(t, url, SERVER_KEY, { SB_NAME: 'remote' });
  sb.callable('whoami', () => 'local');
  const names = new Set<unknown>();
  for (let i = 0; i < 10; i++) names.add(await sb.call('whoami'));
  assert.deepEqual([...names].sort(), ['local', 'remote']);
});

test('incoming calls run concurrently up to maxConcurrentCalls, the rest wait their turn', async (t) => {
  const { sb, url } = await startServer(t);
  await spawnUplink(t, url, SERVER_KEY, { SB_MAX_CONCURRENT: '2' });
  const results = await Promise.all(Array.from({ length: 6 }, () => sb.call('slow', 50)));
  assert.equal(results.length, 6);
  assert.equal(await sb.call('maxRunning'), 2);
});

test('values above the frame limit travel as large messages; above maxMessageBytes they fail with a code', async (t) => {
  const { sb, url } = await startServer(t, {
    maxFrameBytes: 64 * 1024,
    maxMessageBytes: 2 * 1024 * 1024,
  });
  await spawnUplink(t, url, SERVER_KEY);
  // A result of 100 KiB from an uplink to a server whose frames stop at 64 KiB.
  assert.equal(((await sb.call('bigResult', 100 * 1024)) as Uint8Array).byteLength, 100 * 1024);
  // Arguments of 1 MiB through the server to another uplink whose frames stop at 32 KiB, and back.
  const caller = await connect({ url, key: SERVER_KEY, maxFrameBytes: 32 * 1024 });
  t.after(() => caller.close());
  const sent = new Media('application/octet-stream', randomBytes(1024 * 1024), 'blob.bin');
  const echoed = (await caller.call('echo', sent)) as Media;
  assert.ok(echoed instanceof Media);
  assert.equal(echoed.name, 'blob.bin');
  assert.equal(Buffer.compare(Buffer.from(echoed.bytes), Buffer.from(sent.bytes)), 0);
  // Beyond the server's maxMessageBytes (learned from welcome): refused at the sender.
  await assert.rejects(caller.call('echo', new Uint8Array(3 * 1024 * 1024)), {
    code: 'SB_ERR_PROTO_FRAME_TOO_LARGE',
  });
  await assert.rejects(sb.call('bigResult', 3 * 1024 * 1024), {
    code: 'SB_ERR_PROTO_FRAME_TOO_LARGE',
  });
  assert.equal(await caller.call('add', 1, 1), 2);
});

test('a client key connects and calls, but cannot register', async (t) => {
  const { url, sb } = await startServer(t);
  sb.callable('hello', () => 'hi', { allowClients: true });
  sb.callable('serverOnly', () => 'secret');
  const client = await connect({ url, key: CLIENT_KEY });
  t.after(() => client.close());
  assert.equal(client.keyKind, 'client');
  assert.equal(await client.call('hello'), 'hi');
  await assert.rejects(client.call('serverOnly'), { code: 'SB_ERR_NO_SUCH_FUNCTION' });
  assert.throws(() => client.callable('mine', () => 1), { code: 'SB_ERR_PERMISSION_DENIED' });
});

test('calls with a signal leave no abort listener behind, synchronous functions included', async (t) => {
  const { sb } = await startServer(t);
  sb.callable('sync', (x: number) => x + 1);
  sb.callable('later', async (x: number) => {
    await new Promise((resolve) => setTimeout(resolve, 1));
    return x * 2;
  });
  sb.callable('fails', () => {
    throw new Error('no');
  });
  const controller = new AbortController();
  for (let i = 0; i < 20; i++) {
    assert.equal(await sb.callWithOptions('sync', [i], { signal: controller.signal }), i + 1);
    assert.equal(await sb.callWithOptions('later', [i], { signal: controller.signal }), i * 2);
    await assert.rejects(sb.callWithOptions('fails', [], { signal: controller.signal }));
  }
  assert.equal(getEventListeners(controller.signal, 'abort').length, 0);
});
