import { randomUUID, timingSafeEqual } from 'node:crypto';
import type Database from 'better-sqlite3';
import { SwitchboardError, type KeyKind } from '@switchboard/shared';
import type { ProvisionedKey } from '../options.ts';
import {
  parseScope,
  scopeFromColumn,
  scopeToColumn,
  type KeyScope,
  type ScopeInput,
} from './key-scope.ts';
import { recordName } from './record-name.ts';
import { hashSecret, newSecret, sameHash } from './secret-hash.ts';

/** What the server knows about a key (never the key itself). */
export interface KeyRecord {
  id: string;
  name: string;
  kind: KeyKind;
  createdAt: number;
  revokedAt: number | null;
  /** 'store' for keys in SQLite, 'options' for keys provisioned at start. */
  source: 'store' | 'options';
  /** What a server key may register; null: anything (see key-scope.ts). */
  scope: KeyScope | null;
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
  scope: string | null;
}

const KEY_PREFIX: Record<KeyKind, string> = { server: 'sbk_s_', client: 'sbk_c_' };

/**
 * Uplink keys, stored as SHA-256 hashes (see secret-hash.ts). Keys provisioned through options live in memory only.
 */
export class KeyStore {
  private readonly provisioned = new Map<string, { hash: Buffer; record: KeyRecord }>();
  private readonly revokeListeners = new Set<(key: KeyRecord) => void>();
  private readonly byHash: Database.Statement<[string], KeyRow>;
  private readonly insert: Database.Statement<
    [string, string, string, string, number, string | null]
  >;
  private readonly activeByName: Database.Statement<[string], KeyRow>;

  constructor(
    private readonly db: Database.Database,
    provisioned: readonly ProvisionedKey[] = [],
  ) {
    this.byHash = db.prepare<[string], KeyRow>('SELECT * FROM keys WHERE hash = ?');
    this.insert = db.prepare(
      'INSERT INTO keys (id, name, kind, hash, created_at, scope) VALUES (?, ?, ?, ?, ?, ?)',
    );
    this.activeByName = db.prepare<[string], KeyRow>(
      'SELECT * FROM keys WHERE name = ? AND revoked_at IS NULL ORDER BY created_at',
    );
    for (const key of provisioned) {
      const hash = hashSecret(key.key);
      const record: KeyRecord = {
        id: `options:${key.name}`,
        name: key.name,
        kind: key.kind,
        createdAt: Date.now(),
        revokedAt: null,
        source: 'options',
        scope: provisionedScope(key),
      };
      this.provisioned.set(hash.toString('hex'), { hash, record });
    }
  }

  /** The live record for `key`, or undefined for an unknown or revoked key. */
  verify(key: string): KeyRecord | undefined {
    const hash = hashSecret(key);
    const hex = hash.toString('hex');
    const provisioned = this.provisioned.get(hex);
    if (provisioned !== undefined) {
      return timingSafeEqual(provisioned.hash, hash) ? provisioned.record : undefined;
    }
    const row = this.byHash.get(hex);
    if (row === undefined || row.revoked_at !== null) return undefined;
    if (!sameHash(row.hash, hash)) return undefined;
    return toRecord(row);
  }

  /**
   * Creates a key, scoped when `scope` names functions or endpoints (server keys only).
   * SB_ERR_KEY_INVALID for an empty, overlong or control-character name, an unknown kind or a
   * bad scope; SB_ERR_KEY_EXISTS when an active key (stored or provisioned) has the name.
   */
  create(rawName: string, kind: KeyKind, scopeInput?: ScopeInput): CreatedKey {
    const name = checkKey(rawName, kind);
    const scope = keyScope(kind, scopeInput);
    const key = newSecret(KEY_PREFIX[kind]);
    const id = randomUUID();
    const createdAt = Date.now();
    // IMMEDIATE takes the write lock before the check, so a server and the CLI creating the
    // same name at once cannot both pass it.
    this.db
      .transaction(() => {
        if (this.activeNamed(name).length > 0) throw keyExists(name);
        this.insert.run(
          id,
          name,
          kind,
          hashSecret(key).toString('hex'),
          createdAt,
          scopeToColumn(scope),
        );
      })
      .immediate();
    return {
      key,
      record: { id, name, kind, createdAt, revokedAt: null, source: 'store', scope },
    };
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

  /**
   * Revokes an active stored key by id, else by name; returns the revoked record, or undefined
   * if none. SB_ERR_KEY_AMBIGUOUS when the name is shared by several active keys (possible in
   * data folders from before names were unique): nothing is revoked and the message lists ids.
   */
  revoke(idOrName: string): KeyRecord | undefined {
    let row = this.db
      .prepare<[string], KeyRow>('SELECT * FROM keys WHERE id = ? AND revoked_at IS NULL')
      .get(idOrName);
    if (row === undefined) {
      const named = this.activeByName.all(idOrName);
      if (named.length > 1) {
        throw new SwitchboardError(
          'SB_ERR_KEY_AMBIGUOUS',
          `${named.length} active keys are named ${JSON.stringify(idOrName)}; revoke one by id: ${named.map((candidate) => candidate.id).join(', ')}`,
          { data: { ids: named.map((candidate) => candidate.id) } },
        );
      }
      row = named[0];
    }
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

  /** Active keys with this name: stored ones first (oldest first), then a provisioned one. */
  private activeNamed(name: string): KeyRecord[] {
    const stored = this.activeByName.all(name).map(toRecord);
    const provisioned = [...this.provisioned.values()]
      .map((p) => p.record)
      .filter((record) => record.name === name);
    return [...stored, ...provisioned];
  }
}

/** A scope only server keys may have: client keys register nothing anyway. */
function keyScope(kind: KeyKind, input: ScopeInput | undefined): KeyScope | null {
  const scope = parseScope(input);
  if (scope !== null && kind !== 'server') {
    throw new SwitchboardError(
      'SB_ERR_KEY_INVALID',
      'Only server keys take a scope (--functions, --endpoints): client keys register nothing',
    );
  }
  return scope;
}

/** A provisioned key's scope; a bad one is a mistake in the options. */
function provisionedScope(key: ProvisionedKey): KeyScope | null {
  try {
    return keyScope(key.kind, key);
  } catch (error) {
    throw new SwitchboardError(
      'SB_ERR_OPTIONS_INVALID',
      `provisioned key ${JSON.stringify(key.name)}: ${(error as Error).message}`,
    );
  }
}

function keyExists(name: string): SwitchboardError {
  return new SwitchboardError(
    'SB_ERR_KEY_EXISTS',
    `An active key named ${JSON.stringify(name)} exists; revoke it first or pick another name`,
  );
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
    scope: scopeFromColumn(row.scope),
  };
}
