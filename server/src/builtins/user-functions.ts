import {
  USER_FUNCTIONS,
  USER_TOKEN_FUNCTIONS,
  type NewUser,
  type UserChanges,
} from '@switchboard/shared';
import type { AppFunction } from '../hub/in-process-provider.ts';
import type { UserStore } from '../store/user-store.ts';
import type { UserTokenStore } from '../store/user-token-store.ts';

type IdOrEmail = number | string;

/**
 * The `sb.users.*` built-ins: the user store (and its users' API tokens) served in-process, so
 * server-key uplinks can manage users. They are registered without `allowClients`, so the
 * dispatcher refuses client keys and HTTP callers without a server key before they run.
 * Arguments arrive from the wire; the stores check every one of them.
 */
export function userFunctions(
  users: UserStore,
  tokens: UserTokenStore,
): Array<[name: string, fn: AppFunction]> {
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
    [
      USER_TOKEN_FUNCTIONS.create,
      // The name is optional; nil (from other languages) means none too.
      (idOrEmail: IdOrEmail, name?: string | null) => tokens.create(idOrEmail, name ?? undefined),
    ],
    [USER_TOKEN_FUNCTIONS.list, (idOrEmail: IdOrEmail) => tokens.list(idOrEmail)],
    [
      USER_TOKEN_FUNCTIONS.revoke,
      (idOrEmail: IdOrEmail, tokenId: string) => tokens.revoke(idOrEmail, tokenId),
    ],
  ];
}
