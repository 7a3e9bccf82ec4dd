import type Database from 'better-sqlite3';
import { decodeValue, type CallerInfo, type TaskError } from '@switchboard/shared';
import type { TaskRecord, TaskStatus } from '../tasks/task-types.ts';

/** Who launched a task, as stored: enough to decide who may see it later. */
export interface TaskLauncherRecord {
  kind: CallerInfo['kind'];
  keyName?: string;
  keyKind?: CallerInfo['keyKind'];
  userId?: number;
}

/** A task record with what only the server needs. */
export interface StoredTask {
  record: TaskRecord;
  launcher: TaskLauncherRecord;
  /** Set when someone asked to kill it (another server of the cluster acts on it). */
  killRequestedAt: number | undefined;
}

/** What a list asks for: filters, and a page of `perPage` newest first. */
export interface TaskQuery {
  name?: string;
  status?: TaskStatus;
  schedule?: string;
  page: number;
  perPage: number;
}

interface TaskRow {
  id: string;
  name: string;
  status: TaskStatus;
  args: Buffer;
  state: Buffer | null;
  result: Buffer | null;
  error: string | null;
  launcher: string;
  schedule: string | null;
  node: string | null;
  provider: string | null;
  timeout_ms: number | null;
  created_at: number;
  started_at: number | null;
  ended_at: number | null;
  kill_requested_at: number | null;
}

/** How a task ended, as stored. */
export interface TaskEnding {
  status: 'completed' | 'failed' | 'killed';
  /** The return value's MessagePack encoding (completed). */
  result?: Buffer;
  error?: TaskError;
  endedAt: number;
}

/**
 * Background task records (`tasks`, docs/tasks.md): one row per launch, values as MessagePack.
 * A row leaves `queued`/`running` once, to one of the three ends; later writes to an ended
 * task change nothing (a kill racing the result loses, whichever lands second).
 */
export class TaskStore {
  private readonly byId: Database.Statement<[string], TaskRow>;
  private readonly insertRow: Database.Statement<Record<string, unknown>>;
  private readonly startRow: Database.Statement<[string, string | null, number, string]>;
  private readonly stateRow: Database.Statement<[Buffer, string]>;
  private readonly endRow: Database.Statement<Record<string, unknown>>;
  private readonly killRow: Database.Statement<[number, string]>;
  private readonly purgeRows: Database.Statement<[number]>;

  constructor(private readonly db: Database.Database) {
    this.byId = db.prepare('SELECT * FROM tasks WHERE id = ?');
    this.insertRow = db.prepare(
      `INSERT INTO tasks (id, name, status, args, launcher, schedule, node, timeout_ms, created_at)
       VALUES (@id, @name, 'queued', @args, @launcher, @schedule, @node, @timeout_ms, @created_at)`,
    );
    this.startRow = db.prepare(
      `UPDATE tasks SET status = 'running', provider = ?, node = ?, started_at = ?
       WHERE id = ? AND status = 'queued'`,
    );
    this.stateRow = db.prepare(
      `UPDATE tasks SET state = ? WHERE id = ? AND status IN ('queued', 'running')`,
    );
    this.endRow = db.prepare(
      `UPDATE tasks SET status = @status, result = @result, error = @error, ended_at = @ended_at,
         state = COALESCE(@state, state)
       WHERE id = @id AND status IN ('queued', 'running')`,
    );
    this.killRow = db.prepare(
      `UPDATE tasks SET kill_requested_at = ? WHERE id = ? AND status IN ('queued', 'running')
       AND kill_requested_at IS NULL`,
    );
    this.purgeRows = db.prepare(
      `DELETE FROM tasks WHERE status IN ('completed', 'failed', 'killed') AND ended_at < ?`,
    );
  }

  insert(record: TaskRecord, args: Buffer, launcher: TaskLauncherRecord): void {
    this.insertRow.run({
      id: record.id,
      name: record.name,
      args,
      launcher: JSON.stringify(launcher),
      schedule: record.schedule ?? null,
      node: record.node ?? null,
      timeout_ms: record.timeoutMs ?? null,
      created_at: record.createdAt,
    });
  }

  /** `queued` → `running` on `provider`; false if it had already left `queued`. */
  started(id: string, provider: string, node: string | undefined, at: number): boolean {
    return this.startRow.run(provider, node ?? null, at, id).changes > 0;
  }

  /** The latest state of a task still running. */
  saveState(id: string, state: Buffer): void {
    this.stateRow.run(state, id);
  }

  /** Ends a task (with its final state, if unsaved); false if it had already ended. */
  end(id: string, ending: TaskEnding, state?: Buffer): boolean {
    return (
      this.endRow.run({
        id,
        status: ending.status,
        result: ending.result ?? null,
        error: ending.error === undefined ? null : JSON.stringify(ending.error),
        ended_at: ending.endedAt,
        state: state ?? null,
      }).changes > 0
    );
  }

  /** Marks a kill request on a task still running; false if it had ended or was marked. */
  requestKill(id: string, at: number): boolean {
    return this.killRow.run(at, id).changes > 0;
  }

  get(id: string): StoredTask | undefined {
    const row = this.byId.get(id);
    return row === undefined ? undefined : stored(row);
  }

  /** A page of tasks, newest first, and how many match in all. */
  list(query: TaskQuery): { items: StoredTask[]; total: number } {
    const where: string[] = [];
    const params: Record<string, unknown> = {};
    for (const field of ['name', 'status', 'schedule'] as const) {
      const value = query[field];
      if (value === undefined) continue;
      where.push(`${field} = @${field}`);
      params[field] = value;
    }
    const clause = where.length === 0 ? '' : `WHERE ${where.join(' AND ')}`;
    const { total } = this.db
      .prepare<Record<string, unknown>, { total: number }>(
        `SELECT COUNT(*) AS total FROM tasks ${clause}`,
      )
      .get(params)!;
    const rows = this.db
      .prepare<Record<string, unknown>, TaskRow>(
        `SELECT * FROM tasks ${clause} ORDER BY created_at DESC, rowid DESC
         LIMIT @limit OFFSET @offset`,
      )
      .all({ ...params, limit: query.perPage, offset: (query.page - 1) * query.perPage });
    return { items: rows.map(stored), total };
  }

  /** Tasks this server ran that have not ended (after a restart: none of them still runs). */
  unfinished(node: string | undefined): string[] {
    return this.db
      .prepare<[string], { id: string }>(
        `SELECT id FROM tasks WHERE status IN ('queued', 'running') AND COALESCE(node, '') = ?`,
      )
      .all(node ?? '')
      .map((row) => row.id);
  }

  /** The servers (node names) that own tasks not ended yet (cluster: who left some behind). */
  unfinishedNodes(): string[] {
    return this.db
      .prepare<[], { node: string }>(
        `SELECT DISTINCT node FROM tasks WHERE status IN ('queued', 'running') AND node IS NOT NULL`,
      )
      .all()
      .map((row) => row.node);
  }

  /** Deletes tasks that ended before `before`; returns how many. */
  purge(before: number): number {
    return this.purgeRows.run(before).changes;
  }

  /** Counts per status (metrics). */
  countByStatus(): Map<TaskStatus, number> {
    const rows = this.db
      .prepare<[], { status: TaskStatus; n: number }>(
        'SELECT status, COUNT(*) AS n FROM tasks GROUP BY status',
      )
      .all();
    return new Map(rows.map((row) => [row.status, row.n]));
  }
}

function stored(row: TaskRow): StoredTask {
  const record: TaskRecord = {
    id: row.id,
    name: row.name,
    status: row.status,
    state: row.state === null ? undefined : decodeValue(row.state),
    createdAt: row.created_at,
  };
  if (row.result !== null) record.result = decodeValue(row.result);
  if (row.error !== null) record.error = JSON.parse(row.error) as TaskError;
  if (row.schedule !== null) record.schedule = row.schedule;
  if (row.provider !== null) record.provider = row.provider;
  if (row.node !== null) record.node = row.node;
  if (row.timeout_ms !== null) record.timeoutMs = row.timeout_ms;
  if (row.started_at !== null) record.startedAt = row.started_at;
  if (row.ended_at !== null) record.endedAt = row.ended_at;
  return {
    record,
    launcher: JSON.parse(row.launcher) as TaskLauncherRecord,
    killRequestedAt: row.kill_requested_at ?? undefined,
  };
}
