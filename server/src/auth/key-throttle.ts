import { SwitchboardError } from '@switchboard/shared';
import type { KeyRecord } from '../store/key-store.ts';

/** Most client addresses remembered at once; the oldest window is forgotten first. */
const MAX_ADDRESSES = 10_000;

interface Window {
  startedAt: number;
  failures: number;
}

/**
 * Counts wrong keys per client address in fixed windows, in bounded memory, so guessing keys
 * costs an attacker a window per `max` tries. Asked before a key is looked at: a throttled
 * address is refused without the key being hashed or compared.
 */
export class KeyThrottle {
  private readonly windows = new Map<string, Window>();

  constructor(
    private readonly limit: { max: number; windowMs: number },
    private readonly now: () => number = Date.now,
  ) {}

  /** Throws SB_ERR_RATE_LIMITED (with `retryAfterSeconds`) when `address` used up its tries. */
  check(address: string): void {
    const window = this.current(address);
    if (window === undefined || window.failures < this.limit.max) return;
    const retryAfterSeconds = Math.max(
      1,
      Math.ceil((window.startedAt + this.limit.windowMs - this.now()) / 1000),
    );
    throw new SwitchboardError(
      'SB_ERR_RATE_LIMITED',
      `Too many wrong keys from this address; try again in ${retryAfterSeconds} s`,
      { data: { retryAfterSeconds } },
    );
  }

  /**
   * Looks up `secret` for a caller at `address`: SB_ERR_RATE_LIMITED when the address used up
   * its tries (the key is not looked at), SB_ERR_AUTH_BAD_KEY (counted) when it is wrong.
   */
  verify(
    keys: { verify(secret: string): KeyRecord | undefined },
    secret: string,
    address: string,
  ): KeyRecord {
    this.check(address);
    const key = keys.verify(secret);
    if (key !== undefined) return key;
    this.failed(address);
    throw new SwitchboardError('SB_ERR_AUTH_BAD_KEY');
  }

  /** Counts one wrong key from `address`. */
  failed(address: string): void {
    let window = this.current(address);
    if (window === undefined) {
      if (this.windows.size >= MAX_ADDRESSES) {
        const oldest = this.windows.keys().next();
        if (oldest.done !== true) this.windows.delete(oldest.value);
      }
      window = { startedAt: this.now(), failures: 0 };
      this.windows.set(address, window);
    }
    window.failures++;
  }

  /** Addresses remembered (for tests and metrics). */
  get size(): number {
    return this.windows.size;
  }

  private current(address: string): Window | undefined {
    const window = this.windows.get(address);
    if (window !== undefined && this.now() - window.startedAt >= this.limit.windowMs) {
      this.windows.delete(address);
      return undefined;
    }
    return window;
  }
}
