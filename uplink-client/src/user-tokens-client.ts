import { USER_TOKEN_FUNCTIONS, type CreatedUserToken, type UserToken } from '@switchboard/shared';
import type { UserCaller } from './users-client.ts';

/**
 * Users' API tokens, through the server's built-in `sb.users.tokens.*` functions (server keys
 * only). A user is named by id or login name. Errors arrive coded: SB_ERR_NO_SUCH_USER,
 * SB_ERR_NO_SUCH_USER_TOKEN, SB_ERR_USER_TOKEN_INVALID.
 */
export class UserTokensClient {
  constructor(private readonly uplink: UserCaller) {}

  /** Creates a token; `token` (prefix `sbu_`) in the answer is the only copy there is. */
  async create(user: number | string, name?: string): Promise<CreatedUserToken> {
    const args = name === undefined ? [user] : [user, name];
    return (await this.uplink.call(USER_TOKEN_FUNCTIONS.create, ...args)) as CreatedUserToken;
  }

  /** The user's tokens, revoked ones included, oldest first (never the secrets). */
  async list(user: number | string): Promise<UserToken[]> {
    return (await this.uplink.call(USER_TOKEN_FUNCTIONS.list, user)) as UserToken[];
  }

  /** Revokes one of the user's tokens by id; revoking it again changes nothing. */
  async revoke(user: number | string, tokenId: string): Promise<UserToken> {
    return (await this.uplink.call(USER_TOKEN_FUNCTIONS.revoke, user, tokenId)) as UserToken;
  }
}
