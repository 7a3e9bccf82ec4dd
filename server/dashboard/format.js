// Number, time and rate formatting for the dashboard.

export function formatCount(value) {
  return typeof value === 'number' && Number.isFinite(value) ? value.toLocaleString('en') : '–';
}

export function formatMs(value) {
  if (typeof value !== 'number' || !Number.isFinite(value)) return '–';
  return value < 10 ? value.toFixed(2) : value < 100 ? value.toFixed(1) : Math.round(value);
}

export function formatRate(value) {
  if (typeof value !== 'number' || !Number.isFinite(value)) return '–';
  return value === 0 ? '0' : value < 10 ? value.toFixed(1) : Math.round(value).toString();
}

/** "12 s ago", "5 min ago", "3 h ago", "2 d ago" from an ISO time. */
export function formatAgo(iso, now = Date.now()) {
  const at = Date.parse(iso);
  if (Number.isNaN(at)) return '–';
  const seconds = Math.max(0, Math.round((now - at) / 1000));
  if (seconds < 60) return `${seconds} s ago`;
  if (seconds < 3600) return `${Math.floor(seconds / 60)} min ago`;
  if (seconds < 86400) return `${Math.floor(seconds / 3600)} h ago`;
  return `${Math.floor(seconds / 86400)} d ago`;
}

const pad = (n) => String(n).padStart(2, '0');

/** "14:03:27", local time. */
export function formatTime(iso) {
  const at = new Date(iso);
  if (Number.isNaN(at.getTime())) return '–';
  return `${pad(at.getHours())}:${pad(at.getMinutes())}:${pad(at.getSeconds())}`;
}

/** "2026-11-22 14:03:27", local time. */
export function formatDate(iso) {
  const at = new Date(iso);
  if (Number.isNaN(at.getTime())) return '–';
  return `${at.getFullYear()}-${pad(at.getMonth() + 1)}-${pad(at.getDate())} ${formatTime(iso)}`;
}

/**
 * Calls per second from the change of a cumulative count between two polls. The first sight of
 * a name, or a count that went down (the server restarted), gives null until the next poll.
 */
export class RateTracker {
  constructor() {
    this.samples = new Map();
  }

  rate(name, count, at) {
    const before = this.samples.get(name);
    this.samples.set(name, { count, at, seen: true });
    if (before === undefined || count < before.count || at <= before.at) return null;
    return ((count - before.count) * 1000) / (at - before.at);
  }

  /** Forgets names that were not seen since the last call, so the map stays bounded. */
  prune() {
    for (const [name, sample] of this.samples) {
      if (!sample.seen) this.samples.delete(name);
      else sample.seen = false;
    }
  }
}
