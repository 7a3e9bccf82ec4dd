import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { PRIVATE_FILE_MODE } from './database.ts';

/** File in the data folder holding the server's master secret (cookies, session signatures). */
export const SECRET_FILE = 'secret.key';

/** Where a warning about the secret's file goes (the server's logger). */
export interface SecretWarnings {
  warn(details: Record<string, unknown>, message: string): void;
}

/**
 * Reads the server's 256-bit master secret from the data folder, creating it (mode 0600) on
 * first start. Cookies sealed with it stay readable across restarts; deleting the file signs
 * everyone out and turns every Switchboard cookie into "absent".
 *
 * A secret.key that group or others may read is used, with one warning through `log`: whoever
 * can read it can forge sessions and read sealed cookies. It is not changed (the operator may
 * have widened it on purpose, e.g. for a backup group) and the server is not stopped.
 */
export function loadSecret(dataDir: string, log?: SecretWarnings): Buffer {
  const file = path.join(dataDir, SECRET_FILE);
  try {
    fs.writeFileSync(file, randomBytes(32).toString('hex') + '\n', {
      flag: 'wx',
      mode: PRIVATE_FILE_MODE,
    });
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
  }
  const mode = fs.statSync(file).mode & 0o777;
  if (process.platform !== 'win32' && (mode & 0o077) !== 0) {
    log?.warn(
      { file, mode: `0${mode.toString(8)}` },
      `${file} is open to other users (mode 0${mode.toString(8)}); anyone who can read it can forge sessions and read sealed cookies: chmod 600 it`,
    );
  }
  const secret = Buffer.from(fs.readFileSync(file, 'utf8').trim(), 'hex');
  if (secret.byteLength < 32) throw new Error(`${file} does not hold a 256-bit hex secret`);
  return secret;
}

/** Replaces the data folder's master secret (a clustered server adopting the cluster's). */
export function saveSecret(dataDir: string, secret: Buffer): void {
  const file = path.join(dataDir, SECRET_FILE);
  const temporary = `${file}.${process.pid}.tmp`;
  fs.writeFileSync(temporary, secret.toString('hex') + '\n', { mode: PRIVATE_FILE_MODE });
  fs.renameSync(temporary, file);
}
