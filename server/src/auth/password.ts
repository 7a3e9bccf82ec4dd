import { randomBytes, scrypt, timingSafeEqual, type ScryptOptions } from 'node:crypto';

/**
 * log2 of scrypt's cost N. 2^14 with r=8 costs about 45 ms and 16 MiB on the machine this was
 * tuned on (20–80 ms was the target); the parameters travel with each hash, so raising this
 * later keeps old hashes verifiable.
 */
export const SCRYPT_LOG_N = 14;
export const SCRYPT_BLOCK_SIZE = 8;
export const SCRYPT_PARALLELISM = 1;
const SALT_BYTES = 16;
const KEY_BYTES = 32;
// Bounds on parameters read back from a stored hash, so a tampered row cannot demand
// gigabytes of memory or minutes of CPU.
const MAX_LOG_N = 20;
const MAX_BLOCK_SIZE = 16;
const MAX_PARALLELISM = 4;

interface ScryptParams {
  logN: number;
  r: number;
  p: number;
}

const DEFAULT_PARAMS: ScryptParams = {
  logN: SCRYPT_LOG_N,
  r: SCRYPT_BLOCK_SIZE,
  p: SCRYPT_PARALLELISM,
};

/**
 * Hashes `password` with scrypt (off the event loop, in libuv's thread pool) into one string
 * carrying everything needed to verify it: `scrypt$ln=14,r=8,p=1$<salt b64>$<key b64>`.
 */
export async function hashPassword(password: string): Promise<string> {
  const salt = randomBytes(SALT_BYTES);
  const key = await derive(password, salt, DEFAULT_PARAMS, KEY_BYTES);
  const { logN, r, p } = DEFAULT_PARAMS;
  return `scrypt$ln=${logN},r=${r},p=${p}$${salt.toString('base64')}$${key.toString('base64')}`;
}

/**
 * Whether `password` matches `stored` (a string from `hashPassword`). A malformed `stored`
 * is simply no match.
 */
export async function verifyPassword(password: string, stored: string): Promise<boolean> {
  const parsed = parseHash(stored);
  if (parsed === undefined) return false;
  const key = await derive(password, parsed.salt, parsed.params, parsed.key.length);
  return timingSafeEqual(key, parsed.key);
}

/**
 * A verifier for login names that do not exist: it spends the same work as `verifyPassword`
 * against a real hash and answers false, so timing does not tell whether a name exists. Its
 * dummy hash is computed on first use and kept by the returned function (no module state).
 */
export function dummyVerifier(): (password: string) => Promise<false> {
  let dummyHash: Promise<string> | undefined;
  return async (password) => {
    dummyHash ??= hashPassword(randomBytes(SALT_BYTES).toString('base64'));
    try {
      await verifyPassword(password, await dummyHash);
    } catch (error) {
      dummyHash = undefined; // not cached when hashing failed; the next call tries again
      throw error;
    }
    return false;
  };
}

function parseHash(
  stored: string,
): { params: ScryptParams; salt: Buffer; key: Buffer } | undefined {
  const parts = stored.split('$');
  if (parts.length !== 4 || parts[0] !== 'scrypt') return undefined;
  const match = /^ln=(\d{1,2}),r=(\d{1,2}),p=(\d{1,2})$/.exec(parts[1]!);
  if (match === null) return undefined;
  const params = { logN: Number(match[1]), r: Number(match[2]), p: Number(match[3]) };
  if (params.logN < 1 || params.logN > MAX_LOG_N) return undefined;
  if (params.r < 1 || params.r > MAX_BLOCK_SIZE) return undefined;
  if (params.p < 1 || params.p > MAX_PARALLELISM) return undefined;
  const salt = Buffer.from(parts[2]!, 'base64');
  const key = Buffer.from(parts[3]!, 'base64');
  if (salt.length === 0 || key.length < 16 || key.length > 64) return undefined;
  return { params, salt, key };
}

function derive(
  password: string,
  salt: Buffer,
  { logN, r, p }: ScryptParams,
  keyBytes: number,
): Promise<Buffer> {
  const N = 2 ** logN;
  // scrypt needs 128·N·r bytes per lane; leave headroom so Node's own check never trips.
  const options: ScryptOptions = { N, r, p, maxmem: 2 * 128 * N * r * p + 1024 * 1024 };
  return new Promise((resolve, reject) => {
    scrypt(password.normalize('NFC'), salt, keyBytes, options, (error, key) => {
      if (error === null) resolve(key);
      else reject(error);
    });
  });
}
