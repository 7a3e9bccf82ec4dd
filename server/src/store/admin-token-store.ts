import { randomUUID } from 'node:crypto';
import type Database from 'better-sqlite3';
import { SwitchboardError } from '@switchboard/shared';
import { recordName } from './record-name.ts';
import { hashSecret, newSecret, sameHash } from './secret-hash.ts';

/** What the server knows about an admin token (never the token itself). */
export interface AdminTokenRecord {
  id: string;
  name: string;
  createdAt: number;
  lastUsedAt: number | null;
  revokedAt: number | null;
}

/** A token as created: the secret is shown once and only its hash is kept. */
export interface CreatedAdminToken {
  record: AdminTokenRecord;
  token: string;
}

/** Prefix of every admin token, so a leaked one is recognisable (and greppable). */
export const ADMIN_TOKEN_PREFIX = 'sbt_';
/** `last_used_at` is written at most this often per token, not on every request. */
const LAST_USED_RESOLUTION_MS = 60_000;

interface TokenRow {
  id: string;
  name: string;
  hash: string;
  created_at: number;
  last_used_at: number | null;
  revoked_at: number | null;
}

/**
 * Tokens of the admin API, stored as SHA-256 hashes (see secret-hash.ts). Names are unique
 * among active tokens, so `revoke(name)` is never ambiguous.
 */
export class AdminTokenStore {
  private readonly byHash: Database.Statement<[string], TokenRow>;
  private readonly insert: Database.Statement<[string, string, string, number]>;
  private readonly all: Database.Statement<[], TokenRow>;
  private readonly active: Database.Statement<[string, string], TokenRow>;
  private readonly markRevoked: Database.Statement<[number, string]>;
  private readonly touch: Database.Statement<[number, string]>;

  constructor(db: Database.Database) {
    this.byHash = db.prepare('SELECT * FROM admin_tokens WHERE hash = ?');
    this.insert = db.prepare(
      'INSERT INTO admin_tokens (id, name, hash, created_at) VALUES (?, ?, ?, ?)',
    );
    this.all = db.prepare('SELECT * FROM admin_tokens ORDER BY created_at, rowid');
    this.active = db.prepare(
      'SELECT * FROM admin_tokens WHERE (id = ? OR name = ?) AND revoked_at IS NULL',
    );
    this.markRevoked = db.prepare('UPDATE admin_tokens SET revoked_at = ? WHERE id = ?');
    this.touch = db.prepare('UPDATE admin_tokens SET last_used_at = ? WHERE id = ?');
  }

  /** SB_ERR_ADMIN_BAD_REQUEST for a bad name, SB_ERR_ADMIN_TOKEN_EXISTS for a taken one. */
  create(name: string): CreatedAdminToken {
    const trimmed = recordName(name, 'admin token', 'SB_ERR_ADMIN_BAD_REQUEST');
    const token = newSecret(ADMIN_TOKEN_PREFIX);
    const id = randomUUID();
    const createdAt = Date.now();
    try {
      this.insert.run(id, trimmed, hashSecret(token).toString('hex'), createdAt);
    } catch (error) {
      if ((error as { code?: unknown }).code === 'SQLITE_CONSTRAINT_UNIQUE') {
        throw new SwitchboardError(
          'SB_ERR_ADMIN_TOKEN_EXISTS',
          `An active admin token is named ${JSON.stringify(trimmed)}`,
        );
      }
      throw error;
    }
    return {
      token,
      record: { id, name: trimmed, createdAt, lastUsedAt: null, revokedAt: null },
    };
  }

  /** The live record for `token`, or undefined for an unknown or revoked one. */
  verify(token: string): AdminTokenRecord | undefined {
    const hash = hashSecret(token);
    const row = this.byHash.get(hash.toString('hex'));
    if (row === undefined || row.revoked_at !== null) return undefined;
    if (!sameHash(row.hash, hash)) return undefined;
    const now = Date.now();
    if (row.last_used_at === null || now - row.last_used_at >= LAST_USED_RESOLUTION_MS) {
      this.touch.run(now, row.id);
      row.last_used_at = now;
    }
    return toRecord(row);
  }

  /** Every token, revoked ones included, oldest first. */
  list(): AdminTokenRecord[] {
    return this.all.all().map(toRecord);
  }

  /** Revokes an active token by id or name; SB_ERR_NO_SUCH_ADMIN_TOKEN if there is none. */
  revoke(idOrName: string): AdminTokenRecord {
    const row = this.active.get(idOrName, idOrName);
    if (row === undefined) {
      throw new SwitchboardError(
        'SB_ERR_NO_SUCH_ADMIN_TOKEN',
        `No active admin token with id or name ${JSON.stringify(idOrName)}`,
      );
    }
    const revokedAt = Date.now();
    this.markRevoked.run(revokedAt, row.id);
    return toRecord({ ...row, revoked_at: revokedAt });
  }
}

function toRecord(row: TokenRow): AdminTokenRecord {
  return {
    id: row.id,
    name: row.name,
    createdAt: row.created_at,
    lastUsedAt: row.last_used_at,
    revokedAt: row.revoked_at,
  };
}
