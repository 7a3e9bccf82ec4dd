import { SwitchboardError, type User } from '@switchboard/shared';
import type { FastifyRequest } from 'fastify';
import type { Limit, RateLimits } from '../http/rate-limits.ts';
import type { UserStore } from '../store/user-store.ts';
import type { BasicCredentials } from './basic-credentials.ts';

/** Failed sign-ins allowed per address are this many times those allowed per login name. */
const ADDRESS_FACTOR = 4;

/**
 * Verifies a login name and password against the users store, throttling failures per login
 * name and per client address (SB_ERR_LOGIN_THROTTLED, before any password work). The answer
 * for an unknown login name and a wrong password is the same, in content and in work done.
 */
export class SignIn {
  private readonly perAddress: Limit;

  constructor(
    private readonly users: UserStore,
    private readonly limits: RateLimits,
    private readonly perName: Limit,
  ) {
    this.perAddress = { max: perName.max * ADDRESS_FACTOR, windowMs: perName.windowMs };
  }

  async verify(request: FastifyRequest, credentials: BasicCredentials): Promise<User> {
    const nameKey = `sign-in:name:${credentials.username.trim().toLowerCase()}`;
    const addressKey = `sign-in:address:${request.ip}`;
    const wait =
      (await this.limits.exhausted(request, nameKey, this.perName)) ??
      (await this.limits.exhausted(request, addressKey, this.perAddress));
    if (wait !== undefined) {
      throw new SwitchboardError('SB_ERR_LOGIN_THROTTLED', undefined, {
        data: { retryAfterSeconds: wait },
      });
    }
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
  }
}
