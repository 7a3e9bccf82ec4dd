import { spawn } from 'node:child_process';
import path from 'node:path';
import type { TestContext } from 'node:test';
import { fileURLToPath } from 'node:url';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

export interface CliRun {
  code: number | null;
  out: string;
  err: string;
}

/** What a CLI run reads: stdin, and variables added to this process's environment. */
export interface CliInput {
  stdin?: string;
  env?: Record<string, string | undefined>;
}

/**
 * Runs the real CLI (its build, as installed) with `--data-dir dataDir` appended (none when `dataDir` is null), feeding
 * `input` (a string is stdin).
 */
export function runCli(
  t: TestContext,
  dataDir: string | null,
  args: string[],
  input: string | CliInput = '',
): Promise<CliRun> {
  const { stdin = '', env = {} } = typeof input === 'string' ? { stdin: input } : input;
  const child = spawn(
    process.execPath,
    [
      // The build (`npm test` builds first): half the start-up time of running the sources.
      path.join(ROOT, 'server/bin/switchboard.js'),
      ...args,
      ...(dataDir === null ? [] : ['--data-dir', dataDir]),
    ],
    { cwd: ROOT, stdio: ['pipe', 'pipe', 'pipe'], env: { ...process.env, ...env } },
  );
  t.after(() => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  });
  let out = '';
  let err = '';
  child.stdout.on('data', (chunk: Buffer) => (out += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (err += chunk.toString()));
  child.stdin.end(stdin);
  return new Promise((resolve) => {
    child.once('close', (code) => resolve({ code, out, err }));
  });
}
