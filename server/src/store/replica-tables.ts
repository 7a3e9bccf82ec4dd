import type Database from 'better-sqlite3';

/**
 * The SQLite side of cluster replication (docs/cluster.md, "Shared state"): which tables are
 * shared, the triggers that list their changed records in `replica_outbox`, and applying a
 * record that another server changed. The NATS side is cluster/state-replica.ts.
 */

/** A shared table: its primary key, and how to clear a local row that blocks a remote one. */
interface TableSpec {
  readonly pk: 'id';
  /**
   * Deletes rows other than `@id` holding a unique value of the incoming row (`@`-named
   * parameters): two servers made the same name at once; the later write in the cluster's
   * order wins on every server alike.
   */
  readonly clearConflicts: readonly string[];
}

export const SHARED_TABLES = {
  keys: { pk: 'id', clearConflicts: ['DELETE FROM keys WHERE hash = @hash AND id != @id'] },
  users: {
    pk: 'id',
    clearConflicts: ['DELETE FROM users WHERE email = @email AND id != @id'],
  },
  sessions: { pk: 'id', clearConflicts: [] },
  admin_tokens: {
    pk: 'id',
    clearConflicts: [
      'DELETE FROM admin_tokens WHERE hash = @hash AND id != @id',
      `DELETE FROM admin_tokens WHERE name = @name AND revoked_at IS NULL AND @revoked_at IS NULL
       AND id != @id`,
    ],
  },
  user_tokens: {
    pk: 'id',
    clearConflicts: ['DELETE FROM user_tokens WHERE hash = @hash AND id != @id'],
  },
  // Background task records (docs/tasks.md): written by the server that owns the task (at
  // launch, start and end, its state at most once a second), a kill request by any server.
  tasks: { pk: 'id', clearConflicts: [] },
  schedules: {
    pk: 'id',
    clearConflicts: ['DELETE FROM schedules WHERE name = @name AND id != @id'],
  },
} as const satisfies Record<string, TableSpec>;

export type SharedTable = keyof typeof SHARED_TABLES;

export function isSharedTable(name: string): name is SharedTable {
  return Object.hasOwn(SHARED_TABLES, name);
}

/** A row as it crosses: column → value; bytes as `{ $bytes: base64 }`. */
export type WireRow = Record<string, string | number | null | { $bytes: string }>;

/** One outbox entry to send: the record's table and key, and the last change number seen. */
export interface OutboxItem {
  table: SharedTable;
  pk: string;
  seq: number;
}

const OPERATIONS = ['INSERT', 'UPDATE', 'DELETE'] as const;

function triggerName(table: string, op: string): string {
  return `replica_${table}_${op.toLowerCase()}`;
}

/** The replication triggers, made while clustered and dropped otherwise. */
export function setReplicationTriggers(db: Database.Database, on: boolean): void {
  db.transaction(() => {
    for (const table of Object.keys(SHARED_TABLES)) {
      for (const op of OPERATIONS) {
        const name = triggerName(table, op);
        db.exec(`DROP TRIGGER IF EXISTS ${name}`);
        if (!on) continue;
        const row = op === 'DELETE' ? 'OLD' : 'NEW';
        db.exec(
          `CREATE TRIGGER ${name} AFTER ${op} ON ${table}
           WHEN (SELECT applying FROM replica_flag) = 0
           BEGIN INSERT INTO replica_outbox (tbl, pk) VALUES ('${table}', ${row}.id); END`,
        );
      }
    }
    if (!on) db.exec('DELETE FROM replica_outbox');
  })();
}

/** The replica's access to the shared tables. */
export class ReplicaTables {
  private readonly columns = new Map<SharedTable, Set<string>>();
  private readonly setApplying: Database.Statement<[number]>;
  private readonly pendingStmt: Database.Statement<[string, string]>;

  constructor(private readonly db: Database.Database) {
    for (const table of Object.keys(SHARED_TABLES) as SharedTable[]) {
      const info = db.pragma(`table_info(${table})`) as Array<{ name: string }>;
      this.columns.set(table, new Set(info.map((column) => column.name)));
    }
    this.setApplying = db.prepare('UPDATE replica_flag SET applying = ?');
    this.pendingStmt = db.prepare('SELECT 1 FROM replica_outbox WHERE tbl = ? AND pk = ? LIMIT 1');
  }

  /**
   * Calls `listener` (soon after, never inside the write) when this process lists a change;
   * changes made by other processes on the data folder (the CLI) are only seen by polling.
   */
  onLocalChange(listener: () => void): void {
    let scheduled = false;
    this.db.function('sb_replica_changed', { deterministic: false }, () => {
      if (!scheduled) {
        scheduled = true;
        setImmediate(() => {
          scheduled = false;
          listener();
        });
      }
      return null;
    });
    this.db.exec(
      `CREATE TEMP TRIGGER IF NOT EXISTS replica_notify AFTER INSERT ON main.replica_outbox
       BEGIN SELECT sb_replica_changed(); END`,
    );
  }

  /** Records changed here and not yet in the cluster's store, one entry per record. */
  outbox(limit: number): OutboxItem[] {
    const rows = this.db
      .prepare<[number], { tbl: string; pk: string; seq: number }>(
        `SELECT tbl, pk, MAX(seq) AS seq FROM replica_outbox GROUP BY tbl, pk
         ORDER BY MIN(seq) LIMIT ?`,
      )
      .all(limit);
    return rows.flatMap((row) =>
      isSharedTable(row.tbl) ? [{ table: row.tbl, pk: String(row.pk), seq: row.seq }] : [],
    );
  }

  /** `item` is in the cluster's store as of its change number. */
  sent(item: OutboxItem): void {
    this.db
      .prepare('DELETE FROM replica_outbox WHERE tbl = ? AND pk = ? AND seq <= ?')
      .run(item.table, item.pk, item.seq);
  }

  /** A change made here to this record is still on its way out. */
  pending(table: SharedTable, pk: string): boolean {
    return this.pendingStmt.get(table, pk) !== undefined;
  }

  /** The record as stored here now, undefined if there is none. */
  read(table: SharedTable, pk: string): WireRow | undefined {
    const row = this.db
      .prepare<[string], Record<string, unknown>>(`SELECT * FROM ${table} WHERE id = ?`)
      .get(pk);
    if (row === undefined) return undefined;
    const wire: WireRow = {};
    for (const [column, value] of Object.entries(row)) {
      wire[column] = Buffer.isBuffer(value)
        ? { $bytes: value.toString('base64') }
        : (value as string | number | null);
    }
    return wire;
  }

  /** Every record key of the shared tables held here. */
  keys(): Array<{ table: SharedTable; pk: string }> {
    return (Object.keys(SHARED_TABLES) as SharedTable[]).flatMap((table) =>
      this.db
        .prepare<[], { id: string | number }>(`SELECT id FROM ${table}`)
        .all()
        .map((row) => ({ table, pk: String(row.id) })),
    );
  }

  /** Queues records for sending (records this server had before it joined). */
  enqueue(records: ReadonlyArray<{ table: SharedTable; pk: string }>): void {
    const insert = this.db.prepare('INSERT INTO replica_outbox (tbl, pk) VALUES (?, ?)');
    this.db.transaction(() => {
      for (const { table, pk } of records) insert.run(table, pk);
    })();
  }

  /**
   * Applies other servers' changes in one transaction (foreign keys checked at its end, so a
   * session may come before its user), without listing them for sending. `row` undefined
   * deletes. Columns this version does not know are ignored.
   */
  apply(
    changes: ReadonlyArray<{ table: SharedTable; pk: string; row: WireRow | undefined }>,
  ): void {
    this.db.transaction(() => {
      this.db.pragma('defer_foreign_keys = ON');
      this.setApplying.run(1);
      try {
        for (const change of changes) this.applyOne(change.table, change.pk, change.row);
      } finally {
        this.setApplying.run(0);
      }
    })();
  }

  private applyOne(table: SharedTable, pk: string, wire: WireRow | undefined): void {
    if (wire === undefined) {
      this.db.prepare(`DELETE FROM ${table} WHERE id = ?`).run(pk);
      return;
    }
    const known = this.columns.get(table)!;
    const row: Record<string, unknown> = {};
    for (const [column, value] of Object.entries(wire)) {
      if (!known.has(column)) continue;
      row[column] =
        value !== null && typeof value === 'object' ? Buffer.from(value.$bytes, 'base64') : value;
    }
    if (row.id === undefined) return;
    const names = Object.keys(row);
    const upsert = this.db.prepare(
      `INSERT INTO ${table} (${names.join(', ')}) VALUES (${names.map((n) => `@${n}`).join(', ')})
       ON CONFLICT (id) DO UPDATE SET ${names.map((n) => `${n} = excluded.${n}`).join(', ')}`,
    );
    try {
      upsert.run(row);
    } catch (error) {
      if ((error as { code?: unknown }).code !== 'SQLITE_CONSTRAINT_UNIQUE') throw error;
      const params = Object.fromEntries([...known].map((column) => [column, row[column] ?? null]));
      for (const sql of SHARED_TABLES[table].clearConflicts) this.db.prepare(sql).run(params);
      upsert.run(row);
    }
  }
}
