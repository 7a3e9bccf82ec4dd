import type { TaskError } from '@switchboard/shared';

/** What `switchboard.schedule()`, the admin API and the CLI give to make a schedule. */
export interface ScheduleInput {
  /** Unique; named like a function (letters, digits, `_ . : -`). Its runs carry it. */
  name: string;
  /** Five fields (minute hour day month weekday) or six (seconds first): `0 30 9 * * MON-FRI`. */
  cron: string;
  /** The function each run launches as a background task. */
  function: string;
  /** Its arguments (MessagePack-able values); none by default. */
  args?: unknown[];
  /** IANA timezone the expression is read in, e.g. `Europe/Paris`; UTC by default. */
  timezone?: string | null;
  /** A disabled schedule keeps its history and fires nothing; true for a new one. */
  enabled?: boolean;
}

/** What may change in a schedule (its name, which its history is kept under, may not). */
export type ScheduleChanges = Partial<Omit<ScheduleInput, 'name'>>;

/** Why a scheduled launch failed: a code and message, as a task's error says it. */
export type ScheduleError = TaskError;

/** A schedule as stored; times in ms since the epoch. */
export interface ScheduleRecord {
  id: string;
  name: string;
  cron: string;
  /** null: UTC. */
  timezone: string | null;
  function: string;
  args: unknown[];
  enabled: boolean;
  createdAt: number;
  updatedAt: number;
  /** The fire time last launched (by this server or another of the cluster), null before. */
  lastRunAt: number | null;
  /** The fire time to launch next; null while disabled. */
  nextRunAt: number | null;
  /** The task the last scheduled launch made, if it made one. */
  lastTaskId: string | null;
  /** Why the last scheduled launch failed (no provider, not allowed, ...); null if it did not. */
  lastError: ScheduleError | null;
}

/** What a claim answers: launch it here, or another server has (and planned this next run). */
export type ClaimResult = { won: true } | { won: false; nextRunAt: number | null };

/**
 * Who launches a scheduled run in a cluster: exactly one server per schedule and fire time.
 * Alone, this server always does (ALONE).
 */
export interface ScheduleClaims {
  /** Resolves once the stored schedules may be trusted (a cluster's shared state is in step). */
  ready(): Promise<void>;
  /**
   * Claims the run of schedule `id` due at `fireAt` for this server, offering `nextRunAt` as
   * the run after it; never rejects (a claim that cannot be made is lost).
   */
  claim(id: string, fireAt: number, nextRunAt: number | null): Promise<ClaimResult>;
}

/** A server on its own: every due run is its to launch. */
export const ALONE: ScheduleClaims = {
  ready: () => Promise.resolve(),
  claim: () => Promise.resolve({ won: true }),
};
