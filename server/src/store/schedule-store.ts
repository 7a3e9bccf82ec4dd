import { randomUUID } from 'node:crypto';
import type Database from 'better-sqlite3';
import { SwitchboardError, decodeValue } from '@switchboard/shared';
import { parseCron, type CronPlan } from '../schedules/cron-expression.ts';
import { checkChanges, checkSchedule } from '../schedules/schedule-input.ts';
import type {
  ScheduleChanges,
  ScheduleError,
  ScheduleInput,
  ScheduleRecord,
} from '../schedules/schedule-types.ts';

interface ScheduleRow {
  id: string;
  name: string;
  cron: string;
  timezone: string | null;
  function: string;
  args: Buffer;
  enabled: number;
  created_at: number;
  updated_at: number;
  last_run_at: number | null;
  next_run_at: number | null;
  last_task_id: string | null;
  last_error: string | null;
}

/** What the scheduler reads of every enabled schedule, often. */
export interface ScheduleTiming {
  id: string;
  cron: string;
  timezone: string | null;
  nextRunAt: number | null;
}

/** How a scheduled launch went: the task it made, or why it made none. */
export interface RunOutcome {
  nextRunAt: number | null;
  taskId?: string;
  error?: ScheduleError;
}

/**
 * Schedules (docs/tasks.md, "Schedules"), in the `schedules` table: created, changed and
 * removed here by the server, the admin API and the CLI alike, and shared by the servers of a
 * cluster. A schedule is named by its id or its unique name wherever one is looked up.
 */
export class ScheduleStore {
  private readonly byId: Database.Statement<[string], ScheduleRow>;
  private readonly byName: Database.Statement<[string], ScheduleRow>;
  private readonly all: Database.Statement<[], ScheduleRow>;
  private readonly timings: Database.Statement<[], ScheduleTiming>;
  private readonly insert: Database.Statement<[ScheduleRow]>;
  private readonly write: Database.Statement<[ScheduleRow]>;
  private readonly ran: Database.Statement<
    [number, number | null, string | null, string | null, string, number]
  >;
  private readonly delete: Database.Statement<[string]>;

  constructor(private readonly db: Database.Database) {
    this.byId = db.prepare('SELECT * FROM schedules WHERE id = ?');
    this.byName = db.prepare('SELECT * FROM schedules WHERE name = ?');
    this.all = db.prepare('SELECT * FROM schedules ORDER BY name');
    this.timings = db.prepare(
      `SELECT id, cron, timezone, next_run_at AS nextRunAt FROM schedules
       WHERE enabled = 1 AND next_run_at IS NOT NULL`,
    );
    this.insert = db.prepare(
      `INSERT INTO schedules (id, name, cron, timezone, function, args, enabled, created_at,
         updated_at, last_run_at, next_run_at, last_task_id, last_error)
       VALUES (@id, @name, @cron, @timezone, @function, @args, @enabled, @created_at,
         @updated_at, @last_run_at, @next_run_at, @last_task_id, @last_error)`,
    );
    this.write = db.prepare(
      `UPDATE schedules SET cron = @cron, timezone = @timezone, function = @function,
         args = @args, enabled = @enabled, updated_at = @updated_at, next_run_at = @next_run_at
       WHERE id = @id`,
    );
    // Only while the schedule still waits for this fire time: a change made meanwhile (a new
    // cron expression, disabled) has planned its next run anew and stays.
    this.ran = db.prepare(
      `UPDATE schedules SET last_run_at = ?, next_run_at = ?, last_task_id = ?, last_error = ?
       WHERE id = ? AND enabled = 1 AND next_run_at IS NOT NULL AND next_run_at <= ?`,
    );
    this.delete = db.prepare('DELETE FROM schedules WHERE id = ?');
  }

  /**
   * Creates a schedule, its first run planned from now. SB_ERR_SCHEDULE_INVALID,
   * SB_ERR_SCHEDULE_EXISTS when the name is taken.
   */
  create(input: ScheduleInput): ScheduleRecord {
    const checked = checkSchedule(input);
    const now = Date.now();
    const row: ScheduleRow = {
      id: randomUUID(),
      name: checked.name,
      cron: checked.plan.cron,
      timezone: checked.plan.timezone,
      function: checked.function,
      args: checked.args,
      enabled: checked.enabled ? 1 : 0,
      created_at: now,
      updated_at: now,
      last_run_at: null,
      next_run_at: checked.enabled ? checked.plan.next(now) : null,
      last_task_id: null,
      last_error: null,
    };
    try {
      this.insert.run(row);
    } catch (error) {
      if ((error as { code?: unknown }).code !== 'SQLITE_CONSTRAINT_UNIQUE') throw error;
      throw new SwitchboardError(
        'SB_ERR_SCHEDULE_EXISTS',
        `A schedule named ${JSON.stringify(row.name)} exists; change it or remove it first`,
      );
    }
    return toRecord(row);
  }

  /**
   * Makes the schedule `input.name` be as given: created if new, else changed where it differs
   * (its planned run kept unless the expression, timezone or enabled state changes, so that a
   * run missed while the server was down still happens once; `enabled` left out stays as it
   * is). SB_ERR_SCHEDULE_INVALID.
   */
  define(input: ScheduleInput): ScheduleRecord {
    const checked = checkSchedule(input);
    return this.db
      .transaction(() => {
        const current = this.byName.get(checked.name);
        if (current === undefined) return this.create(input);
        return this.change(current, {
          cron: checked.plan.cron,
          timezone: checked.plan.timezone,
          function: checked.function,
          args: input.args ?? [],
          // Left out, it stays as it is: an operator's disable outlives the app's restarts.
          enabled: input.enabled === undefined ? undefined : checked.enabled,
        });
      })
      .immediate();
  }

  /** Changes the schedule with this id or name. SB_ERR_NO_SUCH_SCHEDULE, SB_ERR_SCHEDULE_INVALID. */
  update(ref: string, changes: ScheduleChanges): ScheduleRecord {
    return this.db.transaction(() => this.change(this.row(ref), changes)).immediate();
  }

  /** The schedule with this id, else this name; undefined if none. */
  find(ref: string): ScheduleRecord | undefined {
    const row = this.lookup(ref);
    return row === undefined ? undefined : toRecord(row);
  }

  /** The schedule with this id, else this name. SB_ERR_NO_SUCH_SCHEDULE. */
  get(ref: string): ScheduleRecord {
    return toRecord(this.row(ref));
  }

  /** Every schedule, by name. */
  list(): ScheduleRecord[] {
    return this.all.all().map(toRecord);
  }

  /** Removes the schedule with this id or name (its runs stay). SB_ERR_NO_SUCH_SCHEDULE. */
  remove(ref: string): ScheduleRecord {
    const row = this.row(ref);
    this.delete.run(row.id);
    return toRecord(row);
  }

  /** The timing of every enabled schedule (what the scheduler plans its timer with). */
  enabledTimings(): ScheduleTiming[] {
    return this.timings.all();
  }

  /**
   * Records the scheduled run at `fireAt` and plans the next; false (nothing written) if the
   * schedule has gone, was disabled, or had its next run planned past `fireAt` meanwhile.
   */
  recordRun(id: string, fireAt: number, outcome: RunOutcome): boolean {
    const error = outcome.error === undefined ? null : JSON.stringify(outcome.error);
    const taskId = outcome.taskId ?? null;
    const result = this.ran.run(fireAt, outcome.nextRunAt, taskId, error, id, fireAt);
    return result.changes > 0;
  }

  private change(current: ScheduleRow, changes: ScheduleChanges): ScheduleRecord {
    const checked = checkChanges(changes, current);
    const next: ScheduleRow = { ...current };
    if (checked.plan !== undefined) {
      next.cron = checked.plan.cron;
      next.timezone = checked.plan.timezone;
    }
    if (checked.function !== undefined) next.function = checked.function;
    if (checked.args !== undefined) next.args = checked.args;
    if (checked.enabled !== undefined) next.enabled = checked.enabled ? 1 : 0;
    const replan =
      next.cron !== current.cron ||
      next.timezone !== current.timezone ||
      next.enabled !== current.enabled;
    if (!replan && next.function === current.function && next.args.equals(current.args)) {
      return toRecord(current); // nothing changes: nothing written (nor shared)
    }
    const now = Date.now();
    next.updated_at = now;
    if (replan) next.next_run_at = next.enabled === 1 ? planOf(checked.plan, next, now) : null;
    this.write.run(next);
    return toRecord(next);
  }

  private lookup(ref: string): ScheduleRow | undefined {
    if (typeof ref !== 'string') return undefined;
    return this.byId.get(ref) ?? this.byName.get(ref);
  }

  private row(ref: string): ScheduleRow {
    const row = this.lookup(ref);
    if (row === undefined) {
      throw new SwitchboardError(
        'SB_ERR_NO_SUCH_SCHEDULE',
        `No schedule with id or name ${JSON.stringify(ref)}`,
      );
    }
    return row;
  }
}

/** The next run from now: of the new plan, or of the stored expression (enabled again). */
function planOf(plan: CronPlan | undefined, row: ScheduleRow, now: number): number | null {
  return (plan ?? parseCron(row.cron, row.timezone)).next(now);
}

function toRecord(row: ScheduleRow): ScheduleRecord {
  return {
    id: row.id,
    name: row.name,
    cron: row.cron,
    timezone: row.timezone,
    function: row.function,
    args: decodeValue(row.args) as unknown[],
    enabled: row.enabled === 1,
    createdAt: row.created_at,
    updatedAt: row.updated_at,
    lastRunAt: row.last_run_at,
    nextRunAt: row.next_run_at,
    lastTaskId: row.last_task_id,
    lastError: row.last_error === null ? null : (JSON.parse(row.last_error) as ScheduleError),
  };
}
