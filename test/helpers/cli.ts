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

/** Runs the real CLI against `dataDir`, feeding `stdin` if given. */
export function runCli(
  t: TestContext,
  dataDir: string,
  args: string[],
  stdin = '',
): Promise<CliRun> {
  const child = spawn(
    process.execPath,
    ['--import', 'tsx', path.join(ROOT, 'server/src/cli/main.ts'), ...args, '--data-dir', dataDir],
    { cwd: ROOT, stdio: ['pipe', 'pipe', 'pipe'] },
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
