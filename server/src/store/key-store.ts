import { createHash, randomBytes, randomUUID, timingSafeEqual } from 'node:crypto';
import type Database from 'better-sqlite3';
import { SwitchboardError, type KeyKind } from '@switchboard/shared';
import type { ProvisionedKey } from '../options.ts';
import { recordName } from './record-name.ts';

/** What the server knows about a key (never the key itself). */
export interface KeyRecord {
  id: string;
  name: string;
  kind: KeyKind;
  createdAt: number;
  revokedAt: number | null;
  /** 'store' for keys in SQLite, 'options' for keys provisioned at start. */
  source: 'store' | 'options';
}

/** A key as created: the secret is shown once and only its hash is kept. */
export interface CreatedKey {
  record: KeyRecord;
  key: string;
}

interface KeyRow {
  id: string;
  name: string;
  kind: KeyKind;
  hash: string;
  created_at: number;
  revoked_at: number | null;
}

const KEY_PREFIX: Record<KeyKind, string> = { server: 'sbk_s_', client: 'sbk_c_' };

function hashKey(key: string): Buffer {
  return createHash('sha256').update(key, 'utf8').digest();
}

/**
 * Uplink keys, stored as SHA-256 hashes (keys are 256-bit random secrets, so a fast hash is
 * the right tool; passwords get scrypt). Keys provisioned through options live in memory only.
 */
export class KeyStore {
  private readonly provisioned = new Map<string, { hash: Buffer; record: KeyRecord }>();
  private readonly revokeListeners = new Set<(key: KeyRecord) => void>();
  private readonly byHash: Database.Statement<[string], KeyRow>;
  private readonly insert: Database.Statement<[string, string, string, string, number]>;

  constructor(
    private readonly db: Database.Database,
    provisioned: readonly ProvisionedKey[] = [],
  ) {
    this.byHash = db.prepare<[string], KeyRow>('SELECT * FROM keys WHERE hash = ?');
    this.insert = db.prepare(
      'INSERT INTO keys (id, name, kind, hash, created_at) VALUES (?, ?, ?, ?, ?)',
    );
    for (const key of provisioned) {
      const hash = hashKey(key.key);
      const record: KeyRecord = {
        id: `options:${key.name}`,
        name: key.name,
        kind: key.kind,
        createdAt: Date.now(),
        revokedAt: null,
        source: 'options',
      };
      this.provisioned.set(hash.toString('hex'), { hash, record });
    }
  }

  /** The live record for `key`, or undefined for an unknown or revoked key. */
  verify(key: string): KeyRecord | undefined {
    const hash = hashKey(key);
    const hex = hash.toString('hex');
    const provisioned = this.provisioned.get(hex);
    if (provisioned !== undefined) {
      return timingSafeEqual(provisioned.hash, hash) ? provisioned.record : undefined;
    }
    const row = this.byHash.get(hex);
    if (row === undefined || row.revoked_at !== null) return undefined;
    if (!timingSafeEqual(Buffer.from(row.hash, 'hex'), hash)) return undefined;
    return toRecord(row);
  }

  /** SB_ERR_KEY_INVALID for an empty, overlong or control-character name, or an unknown kind. */
  create(rawName: string, kind: KeyKind): CreatedKey {
    const name = checkKey(rawName, kind);
    const key = KEY_PREFIX[kind] + randomBytes(32).toString('base64url');
    const id = randomUUID();
    const createdAt = Date.now();
    this.insert.run(id, name, kind, hashKey(key).toString('hex'), createdAt);
    return { key, record: { id, name, kind, createdAt, revokedAt: null, source: 'store' } };
  }

  /** The key with this id (stored or provisioned, revoked or not); undefined if none. */
  get(id: string): KeyRecord | undefined {
    for (const { record } of this.provisioned.values()) if (record.id === id) return record;
    const row = this.db.prepare<[string], KeyRow>('SELECT * FROM keys WHERE id = ?').get(id);
    return row === undefined ? undefined : toRecord(row);
  }

  list(): KeyRecord[] {
    const rows = this.db.prepare<[], KeyRow>('SELECT * FROM keys ORDER BY created_at').all();
    return [...rows.map(toRecord), ...[...this.provisioned.values()].map((p) => p.record)];
  }

  /** Revokes a stored key by id or name; returns the revoked record, or undefined if none. */
  revoke(idOrName: string): KeyRecord | undefined {
    const row = this.db
      .prepare<[string, string], KeyRow>(
        'SELECT * FROM keys WHERE (id = ? OR name = ?) AND revoked_at IS NULL',
      )
      .get(idOrName, idOrName);
    if (row === undefined) return undefined;
    const revokedAt = Date.now();
    this.db.prepare('UPDATE keys SET revoked_at = ? WHERE id = ?').run(revokedAt, row.id);
    const record = toRecord({ ...row, revoked_at: revokedAt });
    for (const listener of this.revokeListeners) listener(record);
    return record;
  }

  /** Calls `listener` after each revoke through this store (the server closes live uplinks). */
  onRevoke(listener: (key: KeyRecord) => void): void {
    this.revokeListeners.add(listener);
  }

  /**
   * Ids of keys revoked at or after `since` (ms), by this process or another one sharing the
   * data folder (the CLI).
   */
  revokedSince(since: number): string[] {
    return this.db
      .prepare<[number], { id: string }>('SELECT id FROM keys WHERE revoked_at >= ?')
      .all(since)
      .map((row) => row.id);
  }

  /** Number of stored keys, revoked ones included. */
  count(): number {
    return (this.db.prepare('SELECT COUNT(*) AS n FROM keys').get() as { n: number }).n;
  }
}

/** The name as stored (trimmed, like admin token names); throws SB_ERR_KEY_INVALID. */
function checkKey(name: unknown, kind: unknown): string {
  const checked = recordName(name, 'key', 'SB_ERR_KEY_INVALID');
  if (kind !== 'server' && kind !== 'client') {
    throw new SwitchboardError('SB_ERR_KEY_INVALID', 'A key kind is "server" or "client"');
  }
  return checked;
}

function toRecord(row: KeyRow): KeyRecord {
  return {
    id: row.id,
    name: row.name,
    kind: row.kind,
    createdAt: row.created_at,
    revokedAt: row.revoked_at,
    source: 'store',
  };
}
