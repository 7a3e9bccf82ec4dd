import fs from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';

/** File name of the SQLite store inside the data folder. */
export const DATABASE_FILE = 'switchboard.db';

/** Schema migrations, applied in order; append only, never edit a released one. */
const MIGRATIONS: readonly string[] = [
  `CREATE TABLE keys (
     id TEXT PRIMARY KEY,
     name TEXT NOT NULL,
     kind TEXT NOT NULL CHECK (kind IN ('server', 'client')),
     hash TEXT NOT NULL UNIQUE,
     created_at INTEGER NOT NULL,
     revoked_at INTEGER
   );`,
  `CREATE TABLE users (
     id INTEGER PRIMARY KEY,
     email TEXT NOT NULL UNIQUE COLLATE NOCASE,
     password_hash TEXT NOT NULL,
     enabled INTEGER NOT NULL DEFAULT 1,
     created_at INTEGER NOT NULL,
     last_login_at INTEGER,
     data TEXT NOT NULL DEFAULT '{}'
   );
   CREATE TABLE sessions (
     id TEXT PRIMARY KEY,
     data BLOB NOT NULL,
     user_id INTEGER REFERENCES users (id) ON DELETE SET NULL,
     expires_at INTEGER NOT NULL
   );
   CREATE INDEX sessions_expires_at ON sessions (expires_at);`,
  `CREATE TABLE admin_tokens (
     id TEXT PRIMARY KEY,
     name TEXT NOT NULL,
     hash TEXT NOT NULL UNIQUE,
     created_at INTEGER NOT NULL,
     last_used_at INTEGER,
     revoked_at INTEGER
   );
   CREATE UNIQUE INDEX admin_tokens_active_name ON admin_tokens (name) WHERE revoked_at IS NULL;`,
  // What a server key may register (JSON { functions, endpoints }); NULL: unscoped, as every
  // key was before. Active key names are kept unique by KeyStore rather than by an index,
  // because older data folders may already hold duplicates (see KeyStore.revoke).
  `ALTER TABLE keys ADD COLUMN scope TEXT DEFAULT NULL;`,
  // Cluster mode (docs/cluster.md): triggers, made only while clustered, list each changed
  // record here until it is in the cluster's store; \`applying\` is 1 inside the transaction
  // that applies another server's change, so that change is not sent back.
  `CREATE TABLE replica_outbox (
     seq INTEGER PRIMARY KEY AUTOINCREMENT,
     tbl TEXT NOT NULL,
     pk TEXT NOT NULL
   );
   CREATE TABLE replica_flag (applying INTEGER NOT NULL);
   INSERT INTO replica_flag (applying) VALUES (0);`,
  // Users' API tokens (Authorization: Token sbu_...), SHA-256 hashes like admin tokens; they go
  // with their user.
  `CREATE TABLE user_tokens (
     id TEXT PRIMARY KEY,
     user_id INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
     name TEXT NOT NULL,
     hash TEXT NOT NULL UNIQUE,
     created_at INTEGER NOT NULL,
     last_used_at INTEGER,
     revoked_at INTEGER
   );
   CREATE INDEX user_tokens_user_id ON user_tokens (user_id);`,
  // Background tasks (docs/tasks.md): one row per launch, kept after it ends for the retention
  // period. Values (args, state, result) as MessagePack; \`node\` is the server that runs the
  // call (its name in a cluster); \`kill_requested_at\` asks that server to kill it.
  `CREATE TABLE tasks (
     id TEXT PRIMARY KEY,
     name TEXT NOT NULL,
     status TEXT NOT NULL CHECK (status IN ('queued', 'running', 'completed', 'failed', 'killed')),
     args BLOB NOT NULL,
     state BLOB,
     result BLOB,
     error TEXT,
     launcher TEXT NOT NULL,
     schedule TEXT,
     node TEXT,
     provider TEXT,
     timeout_ms INTEGER,
     created_at INTEGER NOT NULL,
     started_at INTEGER,
     ended_at INTEGER,
     kill_requested_at INTEGER
   );
   CREATE INDEX tasks_created_at ON tasks (created_at);
   CREATE INDEX tasks_status ON tasks (status);
   CREATE INDEX tasks_name ON tasks (name);
   CREATE INDEX tasks_schedule ON tasks (schedule) WHERE schedule IS NOT NULL;`,
  // Schedules (docs/tasks.md, "Schedules"): each run is a task whose \`schedule\` is the name;
  // \`next_run_at\` is the fire time to launch next (NULL while disabled), \`last_run_at\` the fire
  // time last launched, \`last_error\` (JSON { code, message }) why its launch failed, if it did.
  `CREATE TABLE schedules (
     id TEXT PRIMARY KEY,
     name TEXT NOT NULL UNIQUE,
     cron TEXT NOT NULL,
     timezone TEXT,
     function TEXT NOT NULL,
     args BLOB NOT NULL,
     enabled INTEGER NOT NULL DEFAULT 1,
     created_at INTEGER NOT NULL,
     updated_at INTEGER NOT NULL,
     last_run_at INTEGER,
     next_run_at INTEGER,
     last_task_id TEXT,
     last_error TEXT
   );`,
];

/** The schema version a store has once opened (SQLite's user_version). */
export const SCHEMA_VERSION = MIGRATIONS.length;

/** Mode of the data folder when Switchboard creates it: the owner only. */
export const DATA_DIR_MODE = 0o700;
/** Mode of the database, its `-wal`/`-shm` files and `secret.key`: owner read/write only. */
export const PRIVATE_FILE_MODE = 0o600;

/** Opens (creating if needed) the store in `dataDir` and brings its schema up to date. */
export function openDatabase(dataDir: string): Database.Database {
  fs.mkdirSync(dataDir, { recursive: true, mode: DATA_DIR_MODE });
  const file = path.join(dataDir, DATABASE_FILE);
  // Created 0600 before SQLite opens it (SQLite gives its -wal and -shm files the mode of the
  // database file); files left by older versions with the umask's mode are tightened.
  fs.closeSync(fs.openSync(file, 'a', PRIVATE_FILE_MODE));
  for (const suffix of ['', '-wal', '-shm']) tighten(file + suffix);
  const db = new Database(file);
  db.pragma('busy_timeout = 5000');
  db.pragma('journal_mode = WAL');
  db.pragma('foreign_keys = ON');
  // The version is read inside a write transaction: two processes opening a new data folder at
  // once (a server and the CLI) migrate one after the other instead of both from version 0.
  db.transaction(() => {
    const current = db.pragma('user_version', { simple: true }) as number;
    for (let version = current; version < MIGRATIONS.length; version++) {
      db.exec(MIGRATIONS[version]!);
    }
    if (current < MIGRATIONS.length) db.pragma(`user_version = ${MIGRATIONS.length}`);
  }).immediate();
  return db;
}

/** chmod 0600 unless already so; no-op for a missing file or where modes mean nothing. */
function tighten(file: string): void {
  if (process.platform === 'win32') return;
  try {
    if ((fs.statSync(file).mode & 0o777) !== PRIVATE_FILE_MODE)
      fs.chmodSync(file, PRIVATE_FILE_MODE);
  } catch (error) {
    // EPERM: someone else's file (root running the CLI on a service's folder); left as it is.
    const code = (error as NodeJS.ErrnoException).code;
    if (code !== 'ENOENT' && code !== 'EPERM') throw error;
  }
}
