import { randomUUID } from 'node:crypto';
import type Database from 'better-sqlite3';
import {
  SwitchboardError,
  USER_TOKEN_PREFIX,
  type CreatedUserToken,
  type UserToken,
} from '@switchboard/shared';
import { recordName } from './record-name.ts';
import { hashSecret, newSecret, sameHash } from './secret-hash.ts';
import type { UserStore } from './user-store.ts';

/** Name of a token created without one. */
export const DEFAULT_USER_TOKEN_NAME = 'api';
/** `last_used_at` is written at most this often per token, not on every request. */
const LAST_USED_RESOLUTION_MS = 60_000;
/** Longest string worth hashing as a token (a real one is 47 characters). */
const MAX_TOKEN_LENGTH = 128;

type IdOrEmail = number | string;

interface TokenRow {
  id: string;
  user_id: number;
  name: string;
  hash: string;
  created_at: number;
  last_used_at: number | null;
  revoked_at: number | null;
}

/**
 * Users' personal API tokens (`Authorization: Token sbu_...` on endpoints with
 * `authenticateUsers`), stored as SHA-256 hashes like admin tokens (secret-hash.ts) and shown
 * once. A token belongs to one user and is deleted with that user. Names need not be unique:
 * tokens are revoked by id.
 */
export class UserTokenStore {
  private readonly byHash: Database.Statement<[string], TokenRow>;
  private readonly byId: Database.Statement<[string, number], TokenRow>;
  private readonly ofUser: Database.Statement<[number], TokenRow>;
  private readonly insert: Database.Statement<[string, number, string, string, number]>;
  private readonly markRevoked: Database.Statement<[number, string]>;
  private readonly touch: Database.Statement<[number, string]>;

  constructor(
    db: Database.Database,
    private readonly users: Pick<UserStore, 'find'>,
  ) {
    this.byHash = db.prepare('SELECT * FROM user_tokens WHERE hash = ?');
    this.byId = db.prepare('SELECT * FROM user_tokens WHERE id = ? AND user_id = ?');
    this.ofUser = db.prepare(
      'SELECT * FROM user_tokens WHERE user_id = ? ORDER BY created_at, rowid',
    );
    this.insert = db.prepare(
      'INSERT INTO user_tokens (id, user_id, name, hash, created_at) VALUES (?, ?, ?, ?, ?)',
    );
    this.markRevoked = db.prepare('UPDATE user_tokens SET revoked_at = ? WHERE id = ?');
    this.touch = db.prepare('UPDATE user_tokens SET last_used_at = ? WHERE id = ?');
  }

  /**
   * Creates a token for the user with this id or login name; `token` in the answer is the only
   * copy. SB_ERR_NO_SUCH_USER, SB_ERR_USER_TOKEN_INVALID for a bad name.
   */
  create(user: IdOrEmail, name: string = DEFAULT_USER_TOKEN_NAME): CreatedUserToken {
    const userId = this.userId(user);
    const trimmed = recordName(name, 'token', 'SB_ERR_USER_TOKEN_INVALID');
    const token = newSecret(USER_TOKEN_PREFIX);
    const id = randomUUID();
    const createdAt = Date.now();
    this.insert.run(id, userId, trimmed, hashSecret(token).toString('hex'), createdAt);
    return { id, userId, name: trimmed, createdAt, lastUsedAt: null, revokedAt: null, token };
  }

  /** The user's tokens, revoked ones included, oldest first. SB_ERR_NO_SUCH_USER. */
  list(user: IdOrEmail): UserToken[] {
    return this.ofUser.all(this.userId(user)).map(toToken);
  }

  /** One token of the user. SB_ERR_NO_SUCH_USER, SB_ERR_NO_SUCH_USER_TOKEN. */
  get(user: IdOrEmail, tokenId: string): UserToken {
    return toToken(this.row(this.userId(user), tokenId));
  }

  /**
   * Revokes a token of the user by id (revoking it again changes nothing); it is refused from
   * the next request. SB_ERR_NO_SUCH_USER, SB_ERR_NO_SUCH_USER_TOKEN.
   */
  revoke(user: IdOrEmail, tokenId: string): UserToken {
    const row = this.row(this.userId(user), tokenId);
    if (row.revoked_at === null) {
      row.revoked_at = Date.now();
      this.markRevoked.run(row.revoked_at, row.id);
    }
    return toToken(row);
  }

  /**
   * The active token `token` is, or undefined (unknown, revoked, or not token-shaped: nothing
   * is hashed then). Records the use, at most once a minute per token.
   */
  verify(token: string): UserToken | undefined {
    if (!token.startsWith(USER_TOKEN_PREFIX) || token.length > MAX_TOKEN_LENGTH) return undefined;
    const hash = hashSecret(token);
    const row = this.byHash.get(hash.toString('hex'));
    if (row === undefined || row.revoked_at !== null || !sameHash(row.hash, hash)) return undefined;
    const now = Date.now();
    if (row.last_used_at === null || now - row.last_used_at >= LAST_USED_RESOLUTION_MS) {
      this.touch.run(now, row.id);
      row.last_used_at = now;
    }
    return toToken(row);
  }

  private userId(user: IdOrEmail): number {
    const found = this.users.find(user);
    if (found === undefined) {
      throw new SwitchboardError('SB_ERR_NO_SUCH_USER', `No user ${JSON.stringify(user)}`);
    }
    return found.id;
  }

  private row(userId: number, tokenId: string): TokenRow {
    const row = typeof tokenId === 'string' ? this.byId.get(tokenId, userId) : undefined;
    if (row === undefined) {
      throw new SwitchboardError(
        'SB_ERR_NO_SUCH_USER_TOKEN',
        `User ${userId} has no API token with id ${JSON.stringify(tokenId)}`,
      );
    }
    return row;
  }
}

function toToken(row: TokenRow): UserToken {
  return {
    id: row.id,
    userId: row.user_id,
    name: row.name,
    createdAt: row.created_at,
    lastUsedAt: row.last_used_at,
    revokedAt: row.revoked_at,
  };
}
