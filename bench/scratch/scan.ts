import { jsonBody } from '../lib/handlers.ts';
const doc = JSON.parse(jsonBody(1024 * 1024));
class Media {}
function a(item: object, budget: { left: number }): boolean {
  if (--budget.left < 0) return true;
  if (Array.isArray(item)) {
    for (let i = 0; i < item.length; i++) { const e: unknown = item[i];
      if (typeof e === 'object') { if (e !== null && a(e, budget)) return true; } else if (typeof e === 'bigint') return true; }
    return false;
  }
  if (ArrayBuffer.isView(item) || item instanceof Media) return true;
  if (typeof (item as { toJSON?: unknown }).toJSON === 'function') return false;
  for (const key in item) { const c = (item as Record<string, unknown>)[key];
    if (typeof c === 'object') { if (c !== null && a(c, budget)) return true; } else if (typeof c === 'bigint') return true; }
  return false;
}
let left = 0;
function b(item: object): boolean {
  if (--left < 0) return true;
  if (Array.isArray(item)) {
    for (let i = 0; i < item.length; i++) { const e: unknown = item[i];
      if (typeof e === 'object') { if (e !== null && b(e)) return true; } else if (typeof e === 'bigint') return true; }
    return false;
  }
  const proto = Object.getPrototypeOf(item);
  if (proto === Object.prototype || proto === null) {
    const values = Object.values(item);
    for (let i = 0; i < values.length; i++) { const c: unknown = values[i];
      if (typeof c === 'object') { if (c !== null && b(c)) return true; } else if (typeof c === 'bigint') return true; }
    return false;
  }
  if (ArrayBuffer.isView(item) || item instanceof Media) return true;
  if (typeof (item as { toJSON?: unknown }).toJSON === 'function') return false;
  for (const key in item) { const c = (item as Record<string, unknown>)[key];
    if (typeof c === 'object') { if (c !== null && b(c)) return true; } else if (typeof c === 'bigint') return true; }
  return false;
}
function c(item: object): boolean {
  if (--left < 0) return true;
  if (Array.isArray(item)) {
    for (let i = 0; i < item.length; i++) { const e: unknown = item[i];
      if (typeof e === 'object') { if (e !== null && c(e)) return true; } else if (typeof e === 'bigint') return true; }
    return false;
  }
  const proto = Object.getPrototypeOf(item);
  if (proto !== Object.prototype && proto !== null) {
    if (ArrayBuffer.isView(item) || item instanceof Media) return true;
    if (typeof (item as { toJSON?: unknown }).toJSON === 'function') return false;
  }
  for (const key in item) { const v = (item as Record<string, unknown>)[key];
    if (typeof v === 'object') { if (v !== null && c(v)) return true; } else if (typeof v === 'bigint') return true; }
  return false;
}
for (const [name, fn] of [['a', () => a(doc, { left: 500000 })], ['b', () => { left = 500000; return b(doc); }], ['c', () => { left = 500000; return c(doc); }], ['stringify', () => JSON.stringify(doc).length > 0 && false]] as const) {
  const times: number[] = [];
  for (let r = 0; r < 60; r++) { const t = performance.now(); fn(); times.push(performance.now() - t); }
  times.sort((x, y) => x - y);
  console.log(name, times[30]!.toFixed(3), 'ms');
}
