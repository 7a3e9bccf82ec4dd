import type { LastError, RecentError, StatsSnapshot } from '../../observe/call-stats.ts';
import type { KeyRecord } from '../../store/key-store.ts';
import type { PublicUser } from '../../store/user-store.ts';
import type { UserToken } from '@switchboard/shared';
import type { ScheduleRecord } from '../../schedules/schedule-types.ts';
import { toJson } from '../json-value.ts';

/** The admin API's JSON for a key (never the secret, never its hash). */
export interface KeyView {
  id: string;
  name: string;
  kind: 'server' | 'client';
  created_at: string;
  revoked: boolean;
  /**
   * What a server key may register (patterns: exact, or a prefix ending in `*`); null for an
   * unscoped server key (anything) and for client keys (nothing).
   */
  scope: { functions: string[]; endpoints: string[] } | null;
}

/** The admin API's JSON for a user (never the password hash). */
export interface UserView {
  id: number;
  email: string;
  enabled: boolean;
  created_at: string;
  data: Record<string, unknown>;
}

export function keyView(key: KeyRecord): KeyView {
  return {
    id: key.id,
    name: key.name,
    kind: key.kind,
    created_at: new Date(key.createdAt).toISOString(),
    revoked: key.revokedAt !== null,
    scope:
      key.scope === null
        ? null
        : { functions: [...key.scope.functions], endpoints: [...key.scope.endpoints] },
  };
}

export function userView(user: PublicUser): UserView {
  return {
    id: user.id,
    email: user.email,
    enabled: user.enabled,
    created_at: new Date(user.createdAt).toISOString(),
    data: user.data,
  };
}

/** The admin API's JSON for a user's API token (never the token, never its hash). */
export interface UserTokenView {
  id: string;
  user_id: number;
  name: string;
  created_at: string;
  last_used_at: string | null;
  revoked_at: string | null;
}

export function userTokenView(token: UserToken): UserTokenView {
  return {
    id: token.id,
    user_id: token.userId,
    name: token.name,
    created_at: new Date(token.createdAt).toISOString(),
    last_used_at: isoOrNull(token.lastUsedAt),
    revoked_at: isoOrNull(token.revokedAt),
  };
}

function isoOrNull(at: number | null): string | null {
  return at === null ? null : new Date(at).toISOString();
}

/** Live call statistics as the admin API shows them. */
export interface StatsView {
  count: number;
  errors: number;
  in_flight: number;
  last_error: LastError | null;
  avg_ms: number | null;
  p99_ms: number | null;
}

export function statsView(stats: StatsSnapshot): StatsView {
  return {
    count: stats.count,
    errors: stats.errors,
    in_flight: stats.inFlight,
    last_error: stats.lastError === null ? null : { ...stats.lastError },
    avg_ms: roundMs(stats.avgMs),
    p99_ms: roundMs(stats.p99Ms),
  };
}

/** Milliseconds to the microsecond: enough for a dashboard, no float noise. */
function roundMs(ms: number | null): number | null {
  return ms === null ? null : Math.round(ms * 1000) / 1000;
}

/** One of the recent errors. */
export interface ErrorView {
  at: string;
  code: string;
  message: string;
  function: string | null;
  endpoint: string | null;
  uplink: string | null;
}

export function errorView(error: RecentError): ErrorView {
  return {
    at: error.at,
    code: error.code,
    message: error.message,
    function: error.function ?? null,
    endpoint: error.endpoint ?? null,
    uplink: error.providerId ?? null,
  };
}

/** The admin API's JSON for a schedule (times ISO 8601; `timezone` null: UTC). */
export interface ScheduleView {
  id: string;
  name: string;
  cron: string;
  timezone: string | null;
  function: string;
  args: unknown[];
  enabled: boolean;
  created_at: string;
  updated_at: string;
  /** The fire time last launched. */
  last_run_at: string | null;
  /** The fire time to launch next; null while disabled. */
  next_run_at: string | null;
  last_task_id: string | null;
  /** Why the last scheduled launch failed; null if it did not. */
  last_error: { code: string; message: string } | null;
}

export function scheduleView(schedule: ScheduleRecord): ScheduleView {
  return {
    id: schedule.id,
    name: schedule.name,
    cron: schedule.cron,
    timezone: schedule.timezone,
    function: schedule.function,
    // Bytes and dates in arguments given by app code, as the HTTP RPC answers them.
    args: JSON.parse(toJson(schedule.args)) as unknown[],
    enabled: schedule.enabled,
    created_at: new Date(schedule.createdAt).toISOString(),
    updated_at: new Date(schedule.updatedAt).toISOString(),
    last_run_at: isoOrNull(schedule.lastRunAt),
    next_run_at: isoOrNull(schedule.nextRunAt),
    last_task_id: schedule.lastTaskId,
    last_error: schedule.lastError === null ? null : { ...schedule.lastError },
  };
}
