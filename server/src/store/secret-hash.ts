import { createHash, timingSafeEqual } from 'node:crypto';
import { nanoid } from 'nanoid';

/**
 * How the store keeps the secrets it makes (uplink keys, admin tokens, user API tokens): each is
 * a prefix and 43 nanoid characters (258 random bits), kept as its SHA-256 hash. For secrets that
 * random a fast hash is the right tool (passwords get scrypt), and a lookup by hash tells an
 * attacker nothing about other secrets.
 */
export function newSecret(prefix: string): string {
  return prefix + nanoid(43);
}

/** The SHA-256 of a secret; stored as hex, looked up by that hex. */
export function hashSecret(secret: string): Buffer {
  return createHash('sha256').update(secret, 'utf8').digest();
}

/** Whether a stored hex hash is `hash`, compared in constant time. */
export function sameHash(storedHex: string, hash: Buffer): boolean {
  const stored = Buffer.from(storedHex, 'hex');
  return stored.length === hash.length && timingSafeEqual(stored, hash);
}
