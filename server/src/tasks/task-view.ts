import type { TaskRecord } from './task-types.ts';

/** Path of a task over HTTP. */
export function taskPath(id: string): string {
  return `/_/tasks/${id}`;
}

/**
 * A task as HTTP callers get it (JSON, or MessagePack when asked for): times as ISO 8601
 * strings, `state` null until set, `result`/`error` only once ended.
 */
export function taskView(record: TaskRecord): Record<string, unknown> {
  const view: Record<string, unknown> = {
    id: record.id,
    name: record.name,
    status: record.status,
    state: record.state ?? null,
  };
  if (record.status === 'completed') view.result = record.result ?? null;
  if (record.error !== undefined) view.error = record.error;
  if (record.schedule !== undefined) view.schedule = record.schedule;
  view.provider = record.provider ?? null;
  if (record.node !== undefined) view.node = record.node;
  view.timeoutMs = record.timeoutMs ?? null;
  view.createdAt = iso(record.createdAt);
  view.startedAt = iso(record.startedAt);
  view.endedAt = iso(record.endedAt);
  view.url = taskPath(record.id);
  return view;
}

function iso(ms: number | undefined): string | null {
  return ms === undefined ? null : new Date(ms).toISOString();
}

/**
 * A task as uplinks get it from the `sb.tasks.*` built-ins: the record, times in ms since the
 * epoch, absent fields left out (no undefined on the wire).
 */
export function taskWire(record: TaskRecord): Record<string, unknown> {
  const wire: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(record)) if (value !== undefined) wire[key] = value;
  return wire;
}
