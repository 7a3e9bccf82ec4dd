import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';

/** The server key every bench's Switchboard server is given and its uplinks connect with. */
export const KEY = 'sbk_s_bench-key-0000000000000000000000';

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');

export interface Proc {
  name: string;
  pid: number;
  child: ChildProcess;
  /** Resolves with the first stdout line matching `pattern`. */
  line(pattern: RegExp, timeoutMs?: number): Promise<string>;
  /** How many stdout lines so far match `pattern`. */
  count(pattern: RegExp): number;
  /** The last 4,000 characters the process wrote to stderr. */
  stderr(): string;
}

/** Every process this run started, so each is stopped by its PID at the end (and on Ctrl-C). */
const started = new Set<Proc>();

export function startProcess(
  name: string,
  command: string,
  args: string[],
  { env = {}, cwd = ROOT }: { env?: Record<string, string>; cwd?: string } = {},
): Proc {
  const child = spawn(command, args, {
    cwd,
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const lines: string[] = [];
  const waiters = new Set<() => void>();
  createInterface({ input: child.stdout }).on('line', (text) => {
    lines.push(text);
    for (const wake of [...waiters]) wake();
  });
  let stderr = '';
  child.stderr.on('data', (chunk: Buffer) => {
    stderr = (stderr + chunk.toString()).slice(-4000);
  });
  const proc: Proc = {
    name,
    pid: child.pid!,
    child,
    line: (pattern, timeoutMs = 30_000) =>
      new Promise((resolve, reject) => {
        const check = () => {
          const found = lines.find((l) => pattern.test(l));
          if (found !== undefined) {
            cleanup();
            resolve(found);
          } else if (child.exitCode !== null) {
            cleanup();
            reject(new Error(`${name} exited (${child.exitCode}) before ${pattern}: ${stderr}`));
          }
        };
        const timer = setTimeout(() => {
          cleanup();
          reject(new Error(`${name}: no ${pattern} within ${timeoutMs} ms: ${stderr}`));
        }, timeoutMs);
        const cleanup = () => {
          clearTimeout(timer);
          waiters.delete(check);
          child.off('exit', check);
        };
        waiters.add(check);
        child.on('exit', check);
        check();
      }),
    count: (pattern) => lines.filter((l) => pattern.test(l)).length,
    stderr: () => stderr,
  };
  started.add(proc);
  child.on('exit', () => started.delete(proc));
  return proc;
}

export interface ScriptOptions {
  /** Extra node flags. */
  nodeArgs?: string[];
  /** Another copy of the project to run the script from (A/B). */
  root?: string;
  /** Open-descriptor limit to run it with (through prlimit; above the hard limit needs root). */
  nofile?: number;
}

/**
 * A TypeScript script of the bench run through node with tsx. The `@switchboard/*` packages it
 * imports are their build (`npm run build`), as installed copies run them, unless the options
 * say otherwise (`SOURCE_OPTIONS`, or another copy of the project as `root`).
 */
export function startScript(
  name: string,
  script: string,
  env: Record<string, string> = {},
  { nodeArgs = [], root = ROOT, nofile }: ScriptOptions = {},
): Proc {
  const node = [process.execPath, ...nodeArgs, '--import', 'tsx', path.join(root, script)];
  // prlimit sets the limit and then executes node in its place: the PID is node's.
  const [command, ...args] =
    nofile === undefined ? node : ['prlimit', `--nofile=${nofile}:${nofile}`, '--', ...node];
  return startProcess(name, command!, args, { env, cwd: root });
}

/** Runs the packages from their TypeScript sources through tsx (esbuild, with `keepNames`). */
export const SOURCE_OPTIONS: ScriptOptions = { nodeArgs: ['--conditions=switchboard-source'] };

export async function stop(proc: Proc): Promise<void> {
  if (proc.child.exitCode !== null || proc.child.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => proc.child.once('exit', () => resolve()));
  process.kill(proc.pid, 'SIGTERM');
  const timer = setTimeout(() => {
    if (proc.child.exitCode === null) process.kill(proc.pid, 'SIGKILL');
  }, 3000);
  await exited;
  clearTimeout(timer);
}

export async function stopAll(): Promise<void> {
  await Promise.all([...started].map(stop));
}

/**
 * Runs a bench script's `main`: every process it started is stopped (by PID) when it fails or
 * on Ctrl-C.
 */
export function runMain(main: () => Promise<void>): void {
  process.once('SIGINT', () => void stopAll().then(() => process.exit(130)));
  main().catch(async (error: unknown) => {
    console.error(error);
    await stopAll();
    process.exit(1);
  });
}

/** Writes a run's figures to bench/results/<kind>-<time>.json and says where. */
export function saveResults(kind: string, data: unknown): void {
  const dir = path.join(ROOT, 'bench', 'results');
  mkdirSync(dir, { recursive: true });
  const file = path.join(dir, `${kind}-${new Date().toISOString().replace(/[:.]/g, '-')}.json`);
  writeFileSync(file, JSON.stringify(data, null, 2));
  console.log(`\nResults: ${path.relative(ROOT, file)}`);
}
