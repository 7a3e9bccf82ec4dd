import type Database from 'better-sqlite3';
import type { TaskError, TaskStatus } from '../tasks/task-types.ts';

/** One run of a schedule: a task it launched (the task's own record has the rest). */
export interface ScheduleRun {
  /** The task's id. */
  id: string;
  /** The function it runs. */
  name: string;
  status: TaskStatus;
  /** The server that ran it (in a cluster). */
  node: string | null;
  createdAt: number;
  startedAt: number | null;
  endedAt: number | null;
  error: TaskError | null;
}

interface RunRow {
  id: string;
  name: string;
  status: TaskStatus;
  node: string | null;
  created_at: number;
  started_at: number | null;
  ended_at: number | null;
  error: string | null;
}

/**
 * A schedule's history: the tasks whose `schedule` is its name, newest first (kept for the
 * tasks' retention period, and after the schedule is removed).
 */
export class ScheduleRuns {
  private readonly countStmt: Database.Statement<[string], { n: number }>;
  private readonly pageStmt: Database.Statement<[string, number, number], RunRow>;

  constructor(db: Database.Database) {
    this.countStmt = db.prepare('SELECT COUNT(*) AS n FROM tasks WHERE schedule = ?');
    this.pageStmt = db.prepare(
      `SELECT id, name, status, node, created_at, started_at, ended_at, error FROM tasks
       WHERE schedule = ? ORDER BY created_at DESC, rowid DESC LIMIT ? OFFSET ?`,
    );
  }

  /** How many runs of the schedule `name` are kept. */
  count(name: string): number {
    return this.countStmt.get(name)?.n ?? 0;
  }

  /** Runs `offset` to `offset + limit` of the schedule `name`, newest first. */
  page(name: string, offset: number, limit: number): ScheduleRun[] {
    return this.pageStmt.all(name, limit, offset).map(toRun);
  }
}

function toRun(row: RunRow): ScheduleRun {
  return {
    id: row.id,
    name: row.name,
    status: row.status,
    node: row.node,
    createdAt: row.created_at,
    startedAt: row.started_at,
    endedAt: row.ended_at,
    error: row.error === null ? null : parseError(row.error),
  };
}

/** The task's error as stored (JSON { code, message }); text of another shape as the message. */
function parseError(text: string): TaskError {
  try {
    const parsed = JSON.parse(text) as Partial<TaskError>;
    if (typeof parsed.code === 'string' && typeof parsed.message === 'string') {
      return { code: parsed.code, message: parsed.message };
    }
  } catch {
    // not JSON: below
  }
  return { code: 'SB_ERR_INTERNAL', message: text };
}
