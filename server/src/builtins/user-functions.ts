import {
  SwitchboardError,
  USER_FUNCTIONS,
  getCallContext,
  type NewUser,
  type UserChanges,
} from '@switchboard/shared';
import type { AppFunction } from '../hub/in-process-provider.ts';
import type { UserStore } from '../store/user-store.ts';

/**
 * The `sb.users.*` built-ins: the user store served in-process, so server-key uplinks can
 * manage users. Arguments arrive from the wire, so each is checked here or by the store.
 */
export function userFunctions(users: UserStore): Array<[name: string, fn: AppFunction]> {
  return [
    [USER_FUNCTIONS.create, (input: NewUser) => (guard(), users.create(input))],
    [USER_FUNCTIONS.find, (idOrEmail: number | string) => (guard(), users.find(idOrEmail))],
    [USER_FUNCTIONS.list, () => (guard(), users.list())],
    [
      USER_FUNCTIONS.update,
      (idOrEmail: number | string, changes: UserChanges) => (
        guard(),
        users.update(idOrEmail, changes)
      ),
    ],
    [USER_FUNCTIONS.remove, (idOrEmail: number | string) => (guard(), users.remove(idOrEmail))],
  ];
}

// Stop-gap until per-function permissions exist: until then client keys may call every
// function, and these must not be among them.
function guard(): void {
  const { caller } = getCallContext();
  if (caller.kind !== 'app' && caller.keyKind !== 'server') {
    throw new SwitchboardError(
      'SB_ERR_PERMISSION_DENIED',
      'Only server keys and app code may manage users',
    );
  }
}
