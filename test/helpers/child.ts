import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { createInterface } from 'node:readline';
import type { TestContext } from 'node:test';
import { fileURLToPath } from 'node:url';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');

/**
 * Node flags that run this repository's TypeScript as it is: tsx, and the export condition that
 * maps every `@switchboard/*` import to its package's `src/` (the build is for installed copies).
 */
export const SOURCE_FLAGS = ['--conditions=switchboard-source', '--import', 'tsx'];

export interface Child {
  process: ChildProcess;
  pid: number;
  /** Every stdout line so far. */
  lines: string[];
  /** Everything written to stderr so far. */
  stderr(): string;
  /** Resolves with the first line (past or future) matching `pattern`. */
  waitFor(pattern: RegExp, timeoutMs?: number): Promise<string>;
  /** Resolves when `count` lines match. */
  waitForCount(pattern: RegExp, count: number, timeoutMs?: number): Promise<string[]>;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

/**
 * Starts a script (a path relative to the repo root, or absolute) as a real child process: a
 * `.ts` file from source (`SOURCE_FLAGS`), a `.js`/`.mjs`/`.cjs` file with plain `node`, so it
 * runs the packages' build as an installed copy would.
 */
export function spawnScript(
  t: TestContext,
  script: string,
  env: Record<string, string>,
  args: string[] = [],
): Child {
  const flags = script.endsWith('.ts') ? SOURCE_FLAGS : [];
  const child = spawn(process.execPath, [...flags, path.resolve(ROOT, script), ...args], {
    cwd: ROOT,
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const lines: string[] = [];
  const waiters = new Set<() => void>();
  createInterface({ input: child.stdout }).on('line', (line) => {
    lines.push(line);
    for (const wake of [...waiters]) wake();
  });
  let stderr = '';
  child.stderr.on('data', (chunk: Buffer) => {
    stderr += chunk.toString();
  });
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
    child.once('exit', (code, signal) => {
      for (const wake of [...waiters]) wake();
      resolve({ code, signal });
    });
  });
  t.after(async () => {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGCONT');
      child.kill('SIGKILL');
      await exited;
    }
  });

  const waitForCount = (pattern: RegExp, count: number, timeoutMs = 10_000): Promise<string[]> =>
    new Promise((resolve, reject) => {
      const check = () => {
        const matches = lines.filter((line) => pattern.test(line));
        if (matches.length >= count) {
          done();
          resolve(matches);
        } else if (child.exitCode !== null || child.signalCode !== null) {
          done();
          reject(new Error(`${script} exited before printing ${pattern}; stderr:\n${stderr}`));
        }
      };
      const timer = setTimeout(() => {
        done();
        reject(
          new Error(
            `timed out waiting for ${pattern} from ${script}; stdout:\n${lines.join('\n')}\nstderr:\n${stderr}`,
          ),
        );
      }, timeoutMs);
      const done = () => {
        clearTimeout(timer);
        waiters.delete(check);
      };
      waiters.add(check);
      check();
    });

  return {
    process: child,
    pid: child.pid!,
    lines,
    stderr: () => stderr,
    waitFor: async (pattern, timeoutMs) => (await waitForCount(pattern, 1, timeoutMs))[0]!,
    waitForCount,
    exited,
  };
}

async function startFixture(
  t: TestContext,
  fixture: string,
  env: Record<string, string>,
): Promise<Child> {
  const child = spawnScript(t, fixture, env);
  await child.waitFor(/^ready /);
  return child;
}

/** Starts the test uplink fixture and waits until its functions are registered. */
export function spawnUplink(
  t: TestContext,
  url: string,
  key: string,
  extraEnv: Record<string, string> = {},
): Promise<Child> {
  return startFixture(t, 'test/fixtures/uplink-child.ts', {
    SB_URL: url,
    SB_KEY: key,
    ...extraEnv,
  });
}

/** Starts the HTTP endpoint fixture and waits until its endpoints are registered. */
export function spawnHttpUplink(
  t: TestContext,
  url: string,
  key: string,
  extraEnv: Record<string, string> = {},
): Promise<Child> {
  return startFixture(t, 'test/fixtures/http-uplink.ts', { SB_URL: url, SB_KEY: key, ...extraEnv });
}
