// Hostile-input stress: at least 1,000,000 hostile frames (server key, client key, and
// unauthenticated connections) against a server in its own process, while a well-behaved uplink
// serves calls made over HTTP. Prints the figures docs/security.md quotes.
//   npm run bench:hostile [-- --frames 1000000 --seed 1 --deadline-s 900]
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { parseArgs } from 'node:util';
import {
  codeTotals,
  fuzzAuthenticated,
  fuzzUnauthenticated,
  rssMiB,
  steadyCaller,
  watchHealth,
} from '../test/helpers/hostile-driver.ts';
import { CLIENT_KEY, SERVER_KEY } from '../test/helpers/server.ts';

const { values } = parseArgs({
  options: {
    frames: { type: 'string', default: '1000000' },
    seed: { type: 'string', default: '1' },
    'deadline-s': { type: 'string', default: '900' },
  },
});
const frames = Number(values.frames);
const seed = Number(values.seed);
const deadlineMs = Number(values['deadline-s']) * 1000;

/** Starts a script as a child process and resolves with the first stdout line matching `ready`. */
function start(script: string, env: Record<string, string>, ready: RegExp) {
  const child = spawn(process.execPath, ['--import', 'tsx', script], {
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const line = new Promise<string>((resolve, reject) => {
    createInterface({ input: child.stdout }).on('line', (text) => {
      if (ready.test(text)) resolve(text);
    });
    child.once('exit', (code) => reject(new Error(`${script} exited with ${code}`)));
  });
  return { child, line };
}

function stop(child: ChildProcess): void {
  if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
}

const dataDir = await mkdtemp(path.join(tmpdir(), 'sb-hostile-'));
const server = start(
  'test/fixtures/hostile-server.ts',
  {
    SB_DATA_DIR: dataDir,
    SB_SERVER_KEY: SERVER_KEY,
    SB_CLIENT_KEY: CLIENT_KEY,
    // The fuzzer's wrong keys would lock its own address out; the throttle has its own test.
    SB_OPTIONS: JSON.stringify({ keyFailureThrottle: { max: 1e9, windowMs: 60_000 } }),
  },
  /^listening /,
);
let uplink: ReturnType<typeof start> | undefined;
try {
  const url = (await server.line).slice('listening '.length);
  const wsUrl = `${url.replace(/^http/, 'ws')}/_/uplink`;
  uplink = start(
    'test/fixtures/uplink-child.ts',
    { SB_URL: url, SB_KEY: SERVER_KEY, SB_NAME: 'well-behaved' },
    /^ready /,
  );
  await uplink.line;
  await new Promise((resolve) => setTimeout(resolve, 500)); // its registration lands
  const pid = server.child.pid!;
  const before = rssMiB(pid);
  let peak = before;
  const sampler = setInterval(() => (peak = Math.max(peak, rssMiB(pid))), 100);
  const health = await watchHealth(url, 50);
  const caller = steadyCaller(url, SERVER_KEY, 5);
  const startedAt = performance.now();
  const half = Math.ceil(frames / 2);
  const runs = await Promise.all([
    fuzzAuthenticated({ wsUrl, key: SERVER_KEY, frames: half, seed, deadlineMs }),
    fuzzAuthenticated({ wsUrl, key: CLIENT_KEY, frames: half, seed: seed + 1, deadlineMs }),
    fuzzUnauthenticated({ wsUrl, count: 5_000, seed: seed + 2, deadlineMs }),
  ]);
  const seconds = (performance.now() - startedAt) / 1000;
  const calls = await caller.stop();
  const healthFigures = await health.stop();
  clearInterval(sampler);
  const after = rssMiB(pid);
  const sent = runs.reduce((sum, run) => sum + run.frames, 0);
  const summary = {
    frames: sent,
    messages: runs.reduce((sum, run) => sum + run.messages, 0),
    connections: runs.reduce((sum, run) => sum + run.connections, 0),
    seconds: Math.round(seconds),
    framesPerSecond: Math.round(sent / seconds),
    healthz: {
      checks: healthFigures.checks,
      failures: healthFigures.failures,
      slowestMs: Math.round(healthFigures.maxMs),
    },
    wellBehavedCalls: { calls: calls.calls, failures: calls.failures.length },
    serverRssMiB: {
      before: Math.round(before),
      peak: Math.round(peak),
      after: Math.round(after),
    },
    uncodedRefusals: runs.flatMap((run) => run.uncoded).slice(0, 20),
    codes: codeTotals(...runs),
  };
  console.log(JSON.stringify(summary, null, 2));
  process.exitCode =
    summary.uncodedRefusals.length === 0 && calls.failures.length === 0 && sent >= frames ? 0 : 1;
} finally {
  if (uplink !== undefined) stop(uplink.child);
  stop(server.child);
  await rm(dataDir, { recursive: true, force: true });
}
