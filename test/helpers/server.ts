import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { TestContext } from 'node:test';
import { createSwitchboard, type Switchboard, type SwitchboardOptions } from '@switchboard/server';

export const SERVER_KEY = 'sbk_s_test-server-key-0123456789abcdef';
export const CLIENT_KEY = 'sbk_c_test-client-key-0123456789abcdef';

export interface TestServer {
  sb: Switchboard;
  url: string;
  wsUrl: string;
  dataDir: string;
}

export async function makeDataDir(t: TestContext): Promise<string> {
  const dataDir = await mkdtemp(path.join(tmpdir(), 'sb-test-'));
  t.after(() => rm(dataDir, { recursive: true, force: true }));
  return dataDir;
}

/** A real server on 127.0.0.1 with a fresh data folder, closed when the test ends. */
export async function startServer(
  t: TestContext,
  options: SwitchboardOptions = {},
): Promise<TestServer> {
  const dataDir = options.dataDir ?? (await makeDataDir(t));
  const sb = createSwitchboard({
    host: '127.0.0.1',
    port: 0,
    keys: [
      { name: 'test-server', key: SERVER_KEY, kind: 'server' },
      { name: 'test-client', key: CLIENT_KEY, kind: 'client' },
    ],
    ...options,
    dataDir,
  });
  t.after(() => sb.close());
  const { url } = await sb.listen();
  return { sb, url, wsUrl: `${url.replace(/^http/, 'ws')}/_/uplink`, dataDir };
}

/** Polls `condition` every 10 ms until true; fails after `timeoutMs`. For state with no event. */
export async function until(
  condition: () => boolean,
  timeoutMs = 5000,
  what = 'condition',
): Promise<void> {
  const start = Date.now();
  while (!condition()) {
    if (Date.now() - start > timeoutMs) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

/**
 * Reads a value (each read awaited, never overlapping) until `done` holds for it; resolves with
 * that value.
 */
export async function untilValue<T>(
  read: () => Promise<T>,
  done: (value: T) => boolean,
  timeoutMs = 5000,
  what = 'condition',
): Promise<T> {
  const start = Date.now();
  for (;;) {
    const value = await read();
    if (done(value)) return value;
    if (Date.now() - start > timeoutMs) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}
