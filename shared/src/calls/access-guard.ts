import { SwitchboardError } from '../errors/switchboard-error.ts';
import type { CallerInfo } from '../protocol/caller.ts';
import type { User } from '../users/user.ts';
import { getCallContext } from './call-context.ts';

/** App code and server keys may call anything; everyone else is a "client". */
export function isTrustedCaller(caller: CallerInfo): boolean {
  return caller.kind === 'app' || caller.keyKind === 'server';
}

/**
 * Wraps a function registered with a `requireUser` predicate: for clients, the predicate must
 * accept the caller's user before the function body runs.
 */
export function guardedByUser<F extends (...args: never[]) => unknown>(
  fn: F,
  check: (user: User) => boolean | Promise<boolean>,
): F {
  const guarded = async (...args: Parameters<F>): Promise<unknown> => {
    const { caller, name } = getCallContext();
    if (!isTrustedCaller(caller)) {
      if (caller.user === undefined)
        throw new SwitchboardError('SB_ERR_AUTH_REQUIRED', `${name} needs a signed-in user`);
      if ((await check(caller.user)) !== true)
        throw new SwitchboardError(
          'SB_ERR_PERMISSION_DENIED',
          `${caller.user.email} may not call ${name}`,
        );
    }
    return fn(...args);
  };
  return guarded as unknown as F;
}
