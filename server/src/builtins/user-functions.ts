import {
  SwitchboardError,
  USER_FUNCTIONS,
  getCallContext,
  type NewUser,
  type UserChanges,
} from '@switchboard/shared';
import type { AppFunction } from '../hub/in-process-provider.ts';
import type { UserStore } from '../store/user-store.ts';

type IdOrEmail = number | string;

/**
 * The `sb.users.*` built-ins: the user store served in-process, so server-key uplinks can
 * manage users. Arguments arrive from the wire; the store checks every one of them.
 */
export function userFunctions(users: UserStore): Array<[name: string, fn: AppFunction]> {
  return [
    [USER_FUNCTIONS.create, guarded((input: NewUser) => users.create(input))],
    // nil rather than the undefined extension, so uplinks in any language read "none" plainly.
    [USER_FUNCTIONS.find, guarded((idOrEmail: IdOrEmail) => users.find(idOrEmail) ?? null)],
    [USER_FUNCTIONS.list, guarded(() => users.list())],
    [
      USER_FUNCTIONS.update,
      guarded((idOrEmail: IdOrEmail, changes: UserChanges) => users.update(idOrEmail, changes)),
    ],
    [USER_FUNCTIONS.remove, guarded((idOrEmail: IdOrEmail) => users.remove(idOrEmail))],
  ];
}

/**
 * Stop-gap until per-function permissions exist (until then client keys may call every
 * function): only app code and server keys get through.
 */
function guarded<A extends unknown[], R>(fn: (...args: A) => R): (...args: A) => R {
  return (...args) => {
    const { caller } = getCallContext();
    if (caller.kind !== 'app' && caller.keyKind !== 'server') {
      throw new SwitchboardError(
        'SB_ERR_PERMISSION_DENIED',
        'Only server keys and app code may manage users',
      );
    }
    return fn(...args);
  };
}
