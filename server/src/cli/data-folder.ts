import path from 'node:path';
import type Database from 'better-sqlite3';
import { DEFAULT_DATA_DIR } from '../options.ts';
import { openDatabase } from '../store/database.ts';

/**
 * Opens the store of the data folder named by `--data-dir` (else SWITCHBOARD_DATA_DIR, else the
 * default), runs `use` and closes it again.
 */
export async function withDatabase<T>(
  dataDir: string | boolean | undefined,
  use: (db: Database.Database) => T | Promise<T>,
): Promise<T> {
  const folder =
    typeof dataDir === 'string' ? dataDir : process.env.SWITCHBOARD_DATA_DIR || DEFAULT_DATA_DIR;
  const db = openDatabase(path.resolve(folder));
  try {
    return await use(db);
  } finally {
    db.close();
  }
}
