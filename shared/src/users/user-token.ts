/** A user's API token as every API shows it: never the token or its hash. */
export interface UserToken {
  id: string;
  /** The user it signs in as. */
  userId: number;
  name: string;
  /** Milliseconds since the epoch. */
  createdAt: number;
  /** Last request made with it, to the minute (milliseconds since the epoch); null if none. */
  lastUsedAt: number | null;
  /** When it was revoked (milliseconds since the epoch); null while active. */
  revokedAt: number | null;
}

/** A token as created: `token` (prefix `sbu_`) is shown this once and never again. */
export interface CreatedUserToken extends UserToken {
  token: string;
}

/** Prefix of every user API token, so a leaked one is recognisable (and greppable). */
export const USER_TOKEN_PREFIX = 'sbu_';

/** The built-in functions (reserved `sb.` names) through which server keys manage user tokens. */
export const USER_TOKEN_FUNCTIONS = {
  create: 'sb.users.tokens.create',
  list: 'sb.users.tokens.list',
  revoke: 'sb.users.tokens.revoke',
} as const;
