import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';

/** File in the data folder holding the server's master secret (cookies, session signatures). */
export const SECRET_FILE = 'secret.key';

/**
 * Reads the server's 256-bit master secret from the data folder, creating it (mode 0600) on
 * first start. Cookies sealed with it stay readable across restarts; deleting the file signs
 * everyone out and turns every Switchboard cookie into "absent".
 */
export function loadSecret(dataDir: string): Buffer {
  const file = path.join(dataDir, SECRET_FILE);
  try {
    fs.writeFileSync(file, randomBytes(32).toString('hex') + '\n', { flag: 'wx', mode: 0o600 });
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
  }
  const secret = Buffer.from(fs.readFileSync(file, 'utf8').trim(), 'hex');
  if (secret.byteLength < 32) throw new Error(`${file} does not hold a 256-bit hex secret`);
  return secret;
}
