import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import { Agent, request } from 'node:http';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import WebSocket from 'ws';
import { decodeServerMessage, encodeValue } from '@switchboard/shared';
import { hostileMessage } from './hostile-frames.ts';
import { prng } from './prng.ts';

/** Close codes a refused connection may get; anything else (1006: no close frame) is a failure. */
const REFUSAL_CLOSE_CODES = new Set([1009, 4000, 4001, 4002, 4003]);

/** Resident set size of process `pid`, from /proc. */
export function rssMiB(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kib = Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? Number.NaN);
  return kib / 1024;
}

/**
 * Asks `/healthz` every `everyMs` for as long as it runs, from a process of its own
 * (`test/fixtures/health-watcher.mjs`), and records the slowest answer: how long the server's
 * event loop was unavailable at worst, whatever the attacking process is busy with.
 */
export async function watchHealth(
  url: string,
  everyMs = 25,
): Promise<{ stop(): Promise<HealthFigures> }> {
  const child = spawn(process.execPath, [WATCHER, url, String(everyMs)], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const lines = createInterface({ input: child.stdout })[Symbol.asyncIterator]();
  const first = await lines.next();
  if (first.value !== 'ready') throw new Error('the health watcher did not start');
  return {
    async stop() {
      child.kill('SIGTERM');
      const last = await lines.next();
      return JSON.parse(String(last.value)) as HealthFigures;
    },
  };
}

const WATCHER = fileURLToPath(new URL('../fixtures/health-watcher.mjs', import.meta.url));

export interface HealthFigures {
  checks: number;
  failures: number;
  maxMs: number;
}

export interface FuzzFigures {
  frames: number;
  messages: number;
  connections: number;
  /** Error frames and close reasons seen, by code. */
  codes: Record<string, number>;
  /** Refusals without a code: error frames without SB_ERR_ code, closes without a coded reason. */
  uncoded: string[];
}

/** Opens an authenticated connection; resolves once welcomed. */
async function open(wsUrl: string, key: string, figures: FuzzFigures): Promise<WebSocket> {
  const ws = new WebSocket(wsUrl, { headers: { authorization: `Bearer ${key}` } });
  ws.on('error', () => undefined);
  ws.on('message', (data: Buffer) => {
    let frames;
    try {
      frames = decodeServerMessage(data);
    } catch (error) {
      figures.uncoded.push(`undecodable server message: ${String(error)}`);
      return;
    }
    for (const frame of frames) {
      if (frame.type !== 'error') continue;
      const code = frame.error.code;
      figures.codes[code] = (figures.codes[code] ?? 0) + 1;
      if (!code.startsWith('SB_ERR_')) figures.uncoded.push(`error frame ${code}`);
    }
  });
  ws.on('close', (code, reason) => {
    const text = reason.toString();
    const coded = /^(SB_ERR_[A-Z_]+):/.exec(text)?.[1];
    if (!REFUSAL_CLOSE_CODES.has(code) || coded === undefined) {
      figures.uncoded.push(`close ${code} ${JSON.stringify(text)}`);
      return;
    }
    figures.codes[`close ${code} ${coded}`] = (figures.codes[`close ${code} ${coded}`] ?? 0) + 1;
  });
  await new Promise<void>((resolve, reject) => {
    ws.once('open', () => {
      ws.send(encodeValue({ type: 'hello', protocol: 1, name: 'fuzzer' }));
      ws.once('message', () => resolve());
    });
    ws.once('close', () => reject(new Error('closed before welcome')));
  });
  figures.connections++;
  return ws;
}

/** Resolves when the server answered a ping: every message sent before it has been handled. */
function roundTrip(ws: WebSocket): Promise<void> {
  return new Promise((resolve) => {
    if (ws.readyState !== WebSocket.OPEN) return resolve();
    const done = () => {
      ws.off('pong', done);
      ws.off('close', done);
      resolve();
    };
    ws.on('pong', done);
    ws.on('close', done);
    ws.ping();
  });
}

/**
 * Sends at least `frames` hostile frames over authenticated connections with `key`, `batch`
 * messages between round trips, reconnecting whenever the server closes one (as it must for
 * frames that are no frame). Bounded by `frames` and `deadlineMs`.
 */
export async function fuzzAuthenticated(options: {
  wsUrl: string;
  key: string;
  frames: number;
  seed: number;
  deadlineMs: number;
  batch?: number;
}): Promise<FuzzFigures> {
  const random = prng(options.seed);
  const figures: FuzzFigures = { frames: 0, messages: 0, connections: 0, codes: {}, uncoded: [] };
  const stopAt = Date.now() + options.deadlineMs;
  const batch = options.batch ?? 16;
  let ws = await open(options.wsUrl, options.key, figures);
  while (figures.frames < options.frames && Date.now() < stopAt) {
    for (let i = 0; i < batch && ws.readyState === WebSocket.OPEN; i++) {
      const message = hostileMessage(random);
      ws.send(message.bytes);
      figures.frames += message.frames;
      figures.messages++;
    }
    await roundTrip(ws);
    if (ws.readyState !== WebSocket.OPEN) {
      // Refused: the server closes it with a code (counted by the close listener).
      if (ws.readyState !== WebSocket.CLOSED) await once(ws, 'close');
      ws = await open(options.wsUrl, options.key, figures);
    }
  }
  ws.removeAllListeners('close'); // our own close is no refusal
  ws.close();
  return figures;
}

/**
 * `count` connections that never authenticate, each sending one hostile first message; each
 * must be closed with a coded close. Bounded by `count` and `deadlineMs`.
 */
export async function fuzzUnauthenticated(options: {
  wsUrl: string;
  count: number;
  seed: number;
  deadlineMs: number;
}): Promise<FuzzFigures> {
  const random = prng(options.seed);
  const figures: FuzzFigures = { frames: 0, messages: 0, connections: 0, codes: {}, uncoded: [] };
  const stopAt = Date.now() + options.deadlineMs;
  const firstMessages: Array<() => Buffer> = [
    () => encodeValue({ type: 'hello', protocol: 1, key: 'sbk_s_wrong-wrong-wrong-wrong' }),
    () => encodeValue({ type: 'hello', protocol: 2 }),
    () => encodeValue({ type: 'hello', protocol: 1, name: 'x'.repeat(9000) }),
    () => hostileMessage(random).bytes,
    () => Buffer.alloc(9 * 1024, 0x80),
  ];
  const attempt = async (): Promise<void> => {
    const ws = new WebSocket(options.wsUrl);
    ws.on('error', () => undefined);
    figures.connections++;
    await new Promise<void>((resolve) => {
      ws.once('open', () => {
        ws.send(firstMessages[Math.floor(random() * firstMessages.length)]!());
        figures.frames++;
        figures.messages++;
      });
      ws.once('close', (code, reason) => {
        const coded = /^(SB_ERR_[A-Z_]+):/.exec(reason.toString())?.[1];
        const label = `close ${code} ${coded ?? '-'}`;
        figures.codes[label] = (figures.codes[label] ?? 0) + 1;
        if (!REFUSAL_CLOSE_CODES.has(code) || coded === undefined)
          figures.uncoded.push(`${label} ${JSON.stringify(reason.toString())}`);
        resolve();
      });
    });
  };
  // A few at a time, as a scanner would.
  const worker = async (): Promise<void> => {
    while (figures.connections < options.count && Date.now() < stopAt) await attempt();
  };
  await Promise.all(Array.from({ length: 8 }, worker));
  return figures;
}

/** Adds up the codes of several runs. */
export function codeTotals(...runs: FuzzFigures[]): Record<string, number> {
  const totals: Record<string, number> = {};
  for (const run of runs)
    for (const [code, count] of Object.entries(run.codes))
      totals[code] = (totals[code] ?? 0) + count;
  return totals;
}

/** HTTP calls to `/_/call/add` every `everyMs`, counting failures: the well-behaved caller. */
export function steadyCaller(url: string, key: string, everyMs = 10) {
  const agent = new Agent({ keepAlive: true, maxSockets: 2 });
  let running = true;
  const figures = { calls: 0, failures: [] as string[] };
  const loop = (async () => {
    while (running) {
      const a = figures.calls;
      const outcome = await new Promise<string>((resolve) => {
        const body = JSON.stringify([a, 1]);
        const req = request(
          `${url}/_/call/add`,
          {
            agent,
            method: 'POST',
            headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
          },
          (res) => {
            let text = '';
            res.setEncoding('utf8');
            res.on('data', (chunk: string) => (text += chunk));
            res.on('end', () =>
              resolve(text === String(a + 1) ? 'ok' : `${res.statusCode} ${text}`),
            );
          },
        );
        req.on('error', (error) => resolve(String(error)));
        req.end(body);
      });
      figures.calls++;
      if (outcome !== 'ok') figures.failures.push(outcome);
      await new Promise((resolve) => setTimeout(resolve, everyMs));
    }
  })();
  return {
    async stop() {
      running = false;
      await loop;
      agent.destroy();
      return figures;
    },
  };
}
