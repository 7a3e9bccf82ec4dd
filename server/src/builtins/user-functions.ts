import { USER_FUNCTIONS, type NewUser, type UserChanges } from '@switchboard/shared';
import type { AppFunction } from '../hub/in-process-provider.ts';
import type { UserStore } from '../store/user-store.ts';

type IdOrEmail = number | string;

/**
 * The `sb.users.*` built-ins: the user store served in-process, so server-key uplinks can
 * manage users. They are registered without `allowClients`, so the dispatcher refuses client
 * keys and HTTP callers without a server key before they run. Arguments arrive from the wire;
 * the store checks every one of them.
 */
export function userFunctions(users: UserStore): Array<[name: string, fn: AppFunction]> {
  return [
    [USER_FUNCTIONS.create, (input: NewUser) => users.create(input)],
    // nil rather than the undefined extension, so uplinks in any language read "none" plainly.
    [USER_FUNCTIONS.find, (idOrEmail: IdOrEmail) => users.find(idOrEmail) ?? null],
    [USER_FUNCTIONS.list, () => users.list()],
    [
      USER_FUNCTIONS.update,
      (idOrEmail: IdOrEmail, changes: UserChanges) => users.update(idOrEmail, changes),
    ],
    [USER_FUNCTIONS.remove, (idOrEmail: IdOrEmail) => users.remove(idOrEmail)],
  ];
}
