import { SwitchboardError, type User } from '@switchboard/shared';
import type { Limit, LimitSubject, RateLimits } from '../limits/rate-limits.ts';
import type { UserStore } from '../store/user-store.ts';
import type { UserTokenStore } from '../store/user-token-store.ts';
import type { BasicCredentials } from './basic-credentials.ts';

/** Failed sign-ins allowed per address are this many times those allowed per login name. */
const ADDRESS_FACTOR = 4;

/** Sign-ins being verified for one throttle key, and who waits for one of them to finish. */
interface InFlight {
  count: number;
  waiters: Array<() => void>;
}

/**
 * Verifies a login name and password against the users store, throttling failures per login
 * name and per client address (SB_ERR_LOGIN_THROTTLED, before any password work). The answer
 * for an unknown login name and a wrong password is the same, in content and in work done.
 *
 * A verification in flight may still turn out to be a failure, so it counts against the
 * throttle until its outcome is known: a burst of concurrent guesses cannot get more than the
 * allowed number of passwords tried. Attempts beyond that wait for the ones in flight (a
 * signed-in user's parallel requests are delayed, not refused) and are refused once the
 * failures alone reach the limit.
 */
export class SignIn {
  private readonly perAddress: Limit;
  private readonly inFlight = new Map<string, InFlight>();

  constructor(
    private readonly users: UserStore,
    private readonly limits: RateLimits,
    private readonly perName: Limit,
    private readonly tokens: Pick<UserTokenStore, 'verify'>,
  ) {
    this.perAddress = { max: perName.max * ADDRESS_FACTOR, windowMs: perName.windowMs };
  }

  async verify(request: LimitSubject, credentials: BasicCredentials): Promise<User> {
    const nameKey = `sign-in:name:${credentials.username.trim().toLowerCase()}`;
    const addressKey = `sign-in:address:${request.ip}`;
    // Always the name first, then the address: whoever waits for an address holds a name slot,
    // and holders of an address slot wait for nothing, so waits cannot form a cycle.
    await this.reserve(request, nameKey, this.perName);
    try {
      await this.reserve(request, addressKey, this.perAddress);
    } catch (error) {
      this.release(nameKey);
      throw error;
    }
    try {
      const result = await this.users.verify(credentials.username, credentials.password);
      switch (result.kind) {
        case 'ok':
          return result.user;
        case 'disabled':
          throw new SwitchboardError('SB_ERR_USER_DISABLED');
        case 'invalid':
          await this.limits.hit(request, nameKey, this.perName);
          await this.limits.hit(request, addressKey, this.perAddress);
          throw new SwitchboardError('SB_ERR_AUTH_FAILED');
        default: {
          const unreachable: never = result;
          throw new Error(`unhandled sign-in result ${String(unreachable)}`);
        }
      }
    } finally {
      // After the failure was counted, so an attempt is always counted somewhere.
      this.release(nameKey);
      this.release(addressKey);
    }
  }

  /**
   * Verifies a user API token (`Authorization: Token`) and returns its user and the token's id.
   * Wrong tokens count against the client address like wrong passwords (a token names no user,
   * so there is no per-name count) and are refused with SB_ERR_LOGIN_THROTTLED past the limit;
   * the check is one SHA-256 lookup, so there is nothing in flight to hold.
   */
  async verifyToken(
    request: LimitSubject,
    token: string,
  ): Promise<{ user: User; tokenId: string }> {
    const addressKey = `sign-in:address:${request.ip}`;
    const { used, retryAfterSeconds } = await this.limits.peek(
      request,
      addressKey,
      this.perAddress,
    );
    if (used >= this.perAddress.max) {
      throw new SwitchboardError('SB_ERR_LOGIN_THROTTLED', undefined, {
        data: { retryAfterSeconds },
      });
    }
    const record = this.tokens.verify(token);
    const user = record === undefined ? undefined : this.users.find(record.userId);
    if (record === undefined || user === undefined) {
      await this.limits.hit(request, addressKey, this.perAddress);
      throw new SwitchboardError('SB_ERR_AUTH_FAILED', 'The API token is unknown or revoked');
    }
    if (!user.enabled) throw new SwitchboardError('SB_ERR_USER_DISABLED');
    return { user, tokenId: record.id };
  }

  /** Takes a verification slot under `key`, waiting while failures in flight could use it up. */
  private async reserve(request: LimitSubject, key: string, limit: Limit): Promise<void> {
    for (;;) {
      const { used, retryAfterSeconds } = await this.limits.peek(request, key, limit);
      if (used >= limit.max) {
        throw new SwitchboardError('SB_ERR_LOGIN_THROTTLED', undefined, {
          data: { retryAfterSeconds },
        });
      }
      // No await between this check and the count below.
      const entry = this.inFlight.get(key);
      if (entry === undefined) {
        this.inFlight.set(key, { count: 1, waiters: [] });
        return;
      }
      if (used + entry.count < limit.max) {
        entry.count++;
        return;
      }
      await new Promise<void>((resolve) => entry.waiters.push(resolve));
    }
  }

  private release(key: string): void {
    const entry = this.inFlight.get(key);
    if (entry === undefined) return;
    entry.count--;
    if (entry.count === 0) this.inFlight.delete(key);
    for (const wake of entry.waiters.splice(0)) wake();
  }
}
