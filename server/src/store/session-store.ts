import { nanoid } from 'nanoid';
import type Database from 'better-sqlite3';
import { decodeValue, encodeValue } from '@switchboard/shared';

/** A session as the door works with it. */
export interface Session {
  id: string;
  data: Record<string, unknown>;
  userId: number | null;
  expiresAt: number;
}

interface SessionRow {
  id: string;
  data: Buffer;
  user_id: number | null;
  expires_at: number;
}

/** The changes of one request, merged key by key into the stored session. */
export interface SessionChanges {
  set?: Record<string, unknown>;
  delete?: readonly string[];
  /** A user id to sign in, null to sign out, undefined to leave as is. */
  userId?: number | null;
}

/**
 * Server-side sessions in SQLite: values encoded with the wire codec (so Dates, bytes and Media
 * survive), a sliding expiry, expired rows swept now and then.
 */
export class SessionStore {
  private readonly select: Database.Statement<[string, number], SessionRow>;
  private readonly upsert: Database.Statement<[string, Buffer, number | null, number]>;
  private readonly touch: Database.Statement<[number, string]>;
  private readonly sweep: Database.Statement<[number]>;
  private readonly remove: Database.Statement<[string]>;
  private lastSweep = 0;

  constructor(
    private readonly db: Database.Database,
    readonly ttlMs: number,
  ) {
    this.select = db.prepare<[string, number], SessionRow>(
      'SELECT * FROM sessions WHERE id = ? AND expires_at > ?',
    );
    this.upsert = db.prepare(
      `INSERT INTO sessions (id, data, user_id, expires_at) VALUES (?, ?, ?, ?)
       ON CONFLICT (id) DO UPDATE SET data = excluded.data, user_id = excluded.user_id,
       expires_at = excluded.expires_at`,
    );
    this.touch = db.prepare('UPDATE sessions SET expires_at = ? WHERE id = ?');
    this.sweep = db.prepare('DELETE FROM sessions WHERE expires_at <= ?');
    this.remove = db.prepare('DELETE FROM sessions WHERE id = ?');
  }

  /** A fresh, unsaved session id (192 random bits: 32 nanoid characters). */
  static newId(): string {
    return nanoid(32);
  }

  load(id: string): Session | undefined {
    const row = this.select.get(id, Date.now());
    if (row === undefined) return undefined;
    return {
      id: row.id,
      data: decodeValue(row.data) as Record<string, unknown>,
      userId: row.user_id,
      expiresAt: row.expires_at,
    };
  }

  /**
   * Applies `changes` to the session as stored now (not as the request saw it), so concurrent
   * requests changing different keys both keep their change. Creates the session if needed.
   * With `from`, the session stored under that id moves to `id` (a new id when the signed-in
   * user changes, so an id known before sign-in is worthless after it).
   */
  apply(id: string, changes: SessionChanges, from?: string): void {
    const now = Date.now();
    this.db.transaction(() => {
      const row = this.select.get(from ?? id, now);
      if (from !== undefined && from !== id) this.remove.run(from);
      const data = row === undefined ? {} : (decodeValue(row.data) as Record<string, unknown>);
      for (const key of changes.delete ?? []) delete data[key];
      for (const [key, value] of Object.entries(changes.set ?? {}))
        if (key !== '__proto__') data[key] = value;
      const userId = changes.userId === undefined ? (row?.user_id ?? null) : changes.userId;
      this.upsert.run(id, encodeValue(data), userId, now + this.ttlMs);
    })();
    this.maybeSweep(now);
  }

  /** Extends the session's life (sliding expiry). */
  refresh(id: string): void {
    this.touch.run(Date.now() + this.ttlMs, id);
  }

  private maybeSweep(now: number): void {
    if (now - this.lastSweep < 60_000) return;
    this.lastSweep = now;
    this.sweep.run(now);
  }
}
