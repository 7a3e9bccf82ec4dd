import { readFileSync, writeFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { nanoid } from 'nanoid';

/** A node name made once per data folder and kept there, so a restart keeps its name. */
export function storedNodeName(dataDir: string): string {
  const file = join(dataDir, 'node-name');
  try {
    const stored = readFileSync(file, 'utf8').trim();
    if (/^[A-Za-z0-9_-]{1,64}$/.test(stored)) return stored;
  } catch {
    // first start
  }
  const base =
    hostname()
      .replace(/[^A-Za-z0-9_-]/g, '-')
      .slice(0, 40) || 'node';
  const name = `${base}-${nanoid(6).replace(/[^A-Za-z0-9_-]/g, '_')}`;
  writeFileSync(file, `${name}\n`, { mode: 0o600 });
  return name;
}
