import { USER_FUNCTIONS, type NewUser, type User, type UserChanges } from '@switchboard/shared';
import { UserTokensClient } from './user-tokens-client.ts';

/** What the client needs from an uplink: a way to call a function. */
export interface UserCaller {
  call(name: string, ...args: unknown[]): Promise<unknown>;
}

/**
 * The server's users, managed through its built-in `sb.users.*` functions (server keys only).
 * Errors arrive coded: SB_ERR_USER_EXISTS, SB_ERR_NO_SUCH_USER, SB_ERR_USER_INVALID.
 */
export class UsersClient {
  /** The users' API tokens (`sb.users.tokens.*`). */
  readonly tokens: UserTokensClient;

  constructor(private readonly uplink: UserCaller) {
    this.tokens = new UserTokensClient(uplink);
  }

  /** Creates a user; the password is hashed by the server and never comes back. */
  async create(user: NewUser): Promise<User> {
    return (await this.uplink.call(USER_FUNCTIONS.create, user)) as User;
  }

  /** The user with this id or login name (case-insensitive), or undefined. */
  async find(idOrEmail: number | string): Promise<User | undefined> {
    return ((await this.uplink.call(USER_FUNCTIONS.find, idOrEmail)) ?? undefined) as
      User | undefined;
  }

  /** Every user, by id. */
  async list(): Promise<User[]> {
    return (await this.uplink.call(USER_FUNCTIONS.list)) as User[];
  }

  /** Changes the fields given (`data` is replaced as a whole). */
  async update(idOrEmail: number | string, changes: UserChanges): Promise<User> {
    return (await this.uplink.call(USER_FUNCTIONS.update, idOrEmail, changes)) as User;
  }

  /** Deletes a user; false if there was none. */
  async remove(idOrEmail: number | string): Promise<boolean> {
    return (await this.uplink.call(USER_FUNCTIONS.remove, idOrEmail)) as boolean;
  }
}
