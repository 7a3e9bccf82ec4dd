import type { TestContext } from 'node:test';
import WebSocket from 'ws';
import { decodeServerMessage, encodeValue, type ServerToUplinkFrame } from '@switchboard/shared';

/** A bare WebSocket speaking frames by hand, to test the server's side of the protocol. */
export interface RawClient {
  ws: WebSocket;
  send(frame: unknown): void;
  sendBytes(bytes: Buffer): void;
  next(timeoutMs?: number): Promise<ServerToUplinkFrame>;
  closed: Promise<{ code: number; reason: string }>;
}

export async function rawClient(t: TestContext, wsUrl: string, key?: string): Promise<RawClient> {
  const ws = new WebSocket(
    wsUrl,
    key === undefined ? {} : { headers: { authorization: `Bearer ${key}` } },
  );
  t.after(() => ws.terminate());
  const queue: ServerToUplinkFrame[] = [];
  const waiting: Array<(frame: ServerToUplinkFrame) => void> = [];
  ws.on('message', (data: Buffer) => {
    for (const frame of decodeServerMessage(data)) {
      const wake = waiting.shift();
      if (wake) wake(frame);
      else queue.push(frame);
    }
  });
  const closed = new Promise<{ code: number; reason: string }>((resolve) => {
    ws.on('close', (code, reason) => resolve({ code, reason: reason.toString() }));
  });
  await new Promise<void>((resolve, reject) => {
    ws.once('open', () => resolve());
    ws.once('error', reject);
  });
  return {
    ws,
    send: (frame) => ws.send(encodeValue(frame)),
    sendBytes: (bytes) => ws.send(bytes),
    next: (timeoutMs = 5000) =>
      new Promise((resolve, reject) => {
        const queued = queue.shift();
        if (queued) return resolve(queued);
        const timer = setTimeout(() => reject(new Error('no frame arrived')), timeoutMs);
        waiting.push((frame) => {
          clearTimeout(timer);
          resolve(frame);
        });
      }),
    closed,
  };
}

/** Opens a raw client and completes hello → welcome. */
export async function helloClient(t: TestContext, wsUrl: string, key: string): Promise<RawClient> {
  const client = await rawClient(t, wsUrl, key);
  client.send({ type: 'hello', protocol: 1, name: 'raw' });
  const welcome = await client.next();
  if (welcome.type !== 'welcome') throw new Error(`expected welcome, got ${welcome.type}`);
  return client;
}
