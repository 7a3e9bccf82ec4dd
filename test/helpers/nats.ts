import { spawn, execFileSync, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer, connect } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { TestContext } from 'node:test';
import { inCi } from './ci.ts';

/** Debian's nats-server (`npm run setup:test`; .ci/run installs it), wherever it is. */
function natsServerBinary(): string | undefined {
  for (const candidate of ['nats-server', '/usr/sbin/nats-server', '/usr/bin/nats-server']) {
    try {
      execFileSync(candidate, ['--version'], { stdio: 'ignore' });
      return candidate;
    } catch {
      // the next one
    }
  }
  return undefined;
}

export interface NatsServer {
  readonly url: string;
  readonly port: number;
  /** Stops it (SIGTERM, then waits for the exit). */
  stop(): Promise<void>;
  /** Starts it again on the same port and store. */
  restart(): Promise<void>;
}

/**
 * A real nats-server with JetStream on a free loopback port and a store of its own, stopped
 * when the test ends. Without nats-server the test is skipped with a hint (undefined), except
 * under CI, where it fails: CI installs it, so a missing one is a broken setup.
 */
export async function startNats(t: TestContext): Promise<NatsServer | undefined> {
  const binary = natsServerBinary();
  if (binary === undefined) {
    const message = 'nats-server not found; install it with `npm run setup:test`';
    if (inCi()) throw new Error(`${message}; CI must run the cluster tests`);
    t.skip(message);
    return undefined;
  }
  const store = await mkdtemp(path.join(tmpdir(), 'sb-nats-'));
  const port = await freePort();
  let child: ChildProcess | undefined;
  const start = async (): Promise<void> => {
    child = spawn(binary, ['-a', '127.0.0.1', '-p', String(port), '-js', '-sd', store], {
      stdio: 'ignore',
    });
    await untilListening(port);
  };
  const stop = async (): Promise<void> => {
    const running = child;
    child = undefined;
    if (running === undefined || running.exitCode !== null || running.signalCode !== null) return;
    const exited = new Promise((resolve) => running.once('exit', resolve));
    running.kill('SIGTERM');
    await exited;
  };
  t.after(async () => {
    await stop();
    await rm(store, { recursive: true, force: true });
  });
  await start();
  return { url: `nats://127.0.0.1:${port}`, port, stop, restart: start };
}

export async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise((resolve) => server.close(resolve));
  return port;
}

async function untilListening(port: number, timeoutMs = 10_000): Promise<void> {
  const start = Date.now();
  for (;;) {
    const open = await new Promise<boolean>((resolve) => {
      const socket = connect(port, '127.0.0.1');
      socket.once('connect', () => {
        socket.destroy();
        resolve(true);
      });
      socket.once('error', () => resolve(false));
    });
    if (open) return;
    if (Date.now() - start > timeoutMs) throw new Error(`nats-server did not listen on ${port}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}
