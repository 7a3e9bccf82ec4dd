import type Database from 'better-sqlite3';
import { SwitchboardError, type NewUser, type User, type UserChanges } from '@switchboard/shared';
import { dummyVerifier, hashPassword, verifyPassword } from '../auth/password.ts';
import { DEFAULT_MIN_PASSWORD_LENGTH } from '../options.ts';

/** A user as the store hands it out: never the password hash. */
export type PublicUser = User;

/** The outcome of checking a login name and password. */
export type VerifyResult =
  { kind: 'ok'; user: PublicUser } | { kind: 'invalid' } | { kind: 'disabled'; user: PublicUser };

/** Login names are trimmed, 3–254 characters, `something@something` without whitespace. */
export const MIN_EMAIL_LENGTH = 3;
export const MAX_EMAIL_LENGTH = 254;
/**
 * Passwords set from now on are `minPasswordLength` (default 8) to 1024 characters; no other
 * strength rules are applied. Sign-in still checks shorter passwords set before the minimum.
 */
export const MAX_PASSWORD_LENGTH = 1024;
/** Largest `data` object, measured as UTF-8 JSON. */
export const MAX_USER_DATA_BYTES = 64 * 1024;

const MAX_DATA_DEPTH = 64;
const EMAIL_PATTERN = /^[^\s@]+@[^\s@]+$/;
const PUBLIC_COLUMNS = 'id, email, enabled, created_at, last_login_at, data';
const NEW_USER_FIELDS = new Set(['email', 'password', 'enabled', 'data']);

interface PublicRow {
  id: number;
  email: string;
  enabled: number;
  created_at: number;
  last_login_at: number | null;
  data: string;
}

interface UpdateParams {
  id: number;
  email: string | null;
  passwordHash: string | null;
  enabled: number | null;
  data: string | null;
}

/**
 * Users who sign in with a login name (email-like, unique case-insensitively) and a password
 * stored as a salted scrypt hash. Only `verify` ever reads the hash back, and no method returns
 * it.
 */
export class UserStore {
  private readonly byId: Database.Statement<[number], PublicRow>;
  private readonly byEmail: Database.Statement<[string], PublicRow>;
  private readonly all: Database.Statement<[], PublicRow>;
  private readonly credentials: Database.Statement<[string], PublicRow & { password_hash: string }>;
  private readonly insert: Database.Statement<
    [number | null, string, string, number, number, string]
  >;
  private readonly maxId: Database.Statement<[], { id: number | null }>;
  /** Where new users' ids come from when not from SQLite (a cluster's shared counter). */
  private nextId: ((localMax: number) => Promise<number>) | undefined;
  private readonly change: Database.Statement<[UpdateParams]>;
  private readonly deleteById: Database.Statement<[number]>;
  private readonly signOutEverywhere: Database.Statement<[number]>;
  private readonly touchLogin: Database.Statement<[number, number]>;
  private readonly verifyMissing = dummyVerifier();

  constructor(
    db: Database.Database,
    /** Shortest password `create` and `update` accept (SB_ERR_USER_INVALID below it). */
    private readonly minPasswordLength: number = DEFAULT_MIN_PASSWORD_LENGTH,
  ) {
    this.byId = db.prepare(`SELECT ${PUBLIC_COLUMNS} FROM users WHERE id = ?`);
    this.byEmail = db.prepare(`SELECT ${PUBLIC_COLUMNS} FROM users WHERE email = ?`);
    this.all = db.prepare(`SELECT ${PUBLIC_COLUMNS} FROM users ORDER BY id`);
    this.credentials = db.prepare(
      `SELECT ${PUBLIC_COLUMNS}, password_hash FROM users WHERE email = ?`,
    );
    this.insert = db.prepare(
      `INSERT INTO users (id, email, password_hash, enabled, created_at, data)
       VALUES (?, ?, ?, ?, ?, ?)`,
    );
    this.maxId = db.prepare('SELECT MAX(id) AS id FROM users');
    this.change = db.prepare(
      `UPDATE users SET email = coalesce(@email, email),
         password_hash = coalesce(@passwordHash, password_hash),
         enabled = coalesce(@enabled, enabled), data = coalesce(@data, data)
       WHERE id = @id`,
    );
    this.deleteById = db.prepare('DELETE FROM users WHERE id = ?');
    this.signOutEverywhere = db.prepare('UPDATE sessions SET user_id = NULL WHERE user_id = ?');
    this.touchLogin = db.prepare('UPDATE users SET last_login_at = ? WHERE id = ?');
  }

  /** Creates a user; SB_ERR_USER_EXISTS if the login name is taken, SB_ERR_USER_INVALID if bad. */
  async create(input: NewUser): Promise<PublicUser> {
    const fields = fieldsOf(input, 'create', this.minPasswordLength);
    if (fields.email === undefined) throw invalid('A user needs a login name (email)');
    if (fields.password === undefined) throw invalid('A user needs a password');
    const email = fields.email;
    if (this.byEmail.get(email) !== undefined) throw exists(email); // fail before hashing
    const passwordHash = await hashPassword(fields.password);
    const id = this.nextId === undefined ? null : await this.nextId(this.maxId.get()?.id ?? 0);
    try {
      const { lastInsertRowid } = this.insert.run(
        id,
        email,
        passwordHash,
        fields.enabled === false ? 0 : 1,
        Date.now(),
        fields.data ?? '{}',
      );
      return this.found(Number(lastInsertRowid));
    } catch (error) {
      throw isUniqueViolation(error) ? exists(email) : error;
    }
  }

  /** New users are numbered by `next` (given the highest id held here) instead of SQLite. */
  numberWith(next: (localMax: number) => Promise<number>): void {
    this.nextId = next;
  }

  /** The user with this id, or with this login name (case-insensitive); undefined if none. */
  find(idOrEmail: number | string): PublicUser | undefined {
    const row = this.row(idOrEmail);
    return row === undefined ? undefined : toUser(row);
  }

  /** Every user, by id. */
  list(): PublicUser[] {
    return this.all.all().map(toUser);
  }

  /**
   * Changes the fields given (`data` is replaced as a whole); SB_ERR_NO_SUCH_USER if there is
   * no such user, SB_ERR_USER_EXISTS when renaming onto a taken login name.
   */
  async update(idOrEmail: number | string, changes: UserChanges): Promise<PublicUser> {
    const fields = fieldsOf(changes, 'update', this.minPasswordLength);
    const id = this.row(idOrEmail)?.id;
    if (id === undefined) throw noSuchUser(idOrEmail);
    const params: UpdateParams = {
      id,
      email: fields.email ?? null,
      passwordHash: fields.password === undefined ? null : await hashPassword(fields.password),
      enabled: fields.enabled === undefined ? null : Number(fields.enabled),
      data: fields.data ?? null,
    };
    try {
      // Removed while the password was being hashed: still "no such user".
      if (this.change.run(params).changes === 0) throw noSuchUser(idOrEmail);
    } catch (error) {
      throw isUniqueViolation(error) ? exists(fields.email ?? '') : error;
    }
    // A new password signs the user out of every session (a stolen session ends with it).
    if (params.passwordHash !== null) this.signOutEverywhere.run(id);
    return this.found(id);
  }

  /** Deletes a user; false if there was none. */
  remove(idOrEmail: number | string): boolean {
    const id = this.row(idOrEmail)?.id;
    return id !== undefined && this.deleteById.run(id).changes > 0;
  }

  /**
   * Checks a login name and password. Always spends one scrypt (against a dummy hash when the
   * name is unknown), so an unknown name and a wrong password look alike, in answer and in time.
   * A right password for a disabled user answers 'disabled'; 'ok' records the sign-in time.
   */
  async verify(email: string, password: string): Promise<VerifyResult> {
    const row =
      typeof email === 'string' && typeof password === 'string'
        ? this.credentials.get(email.trim())
        : undefined;
    if (row === undefined || !isPassword(password)) {
      await this.verifyMissing(typeof password === 'string' ? password : '');
      return { kind: 'invalid' };
    }
    if (!(await verifyPassword(password, row.password_hash))) return { kind: 'invalid' };
    const user = toUser(row);
    if (!user.enabled) return { kind: 'disabled', user };
    const now = Date.now();
    this.touchLogin.run(now, user.id);
    return { kind: 'ok', user: { ...user, lastLoginAt: now } };
  }

  private row(idOrEmail: number | string): PublicRow | undefined {
    if (typeof idOrEmail === 'number') {
      return Number.isSafeInteger(idOrEmail) ? this.byId.get(idOrEmail) : undefined;
    }
    if (typeof idOrEmail === 'string') return this.byEmail.get(idOrEmail.trim());
    throw invalid('A user is named by its id (a number) or its login name (a string)');
  }

  private found(id: number): PublicUser {
    const row = this.byId.get(id);
    if (row === undefined) throw noSuchUser(id);
    return toUser(row);
  }
}

/** The validated fields of a create/update argument; `data` already as JSON text. */
function fieldsOf(
  input: unknown,
  what: 'create' | 'update',
  minPasswordLength: number,
): { email?: string; password?: string; enabled?: boolean; data?: string } {
  if (!isPlainObject(input)) throw invalid(`users.${what} takes an object`);
  for (const key of Object.keys(input)) {
    if (!NEW_USER_FIELDS.has(key)) throw invalid(`Unknown user field ${JSON.stringify(key)}`);
  }
  const fields: { email?: string; password?: string; enabled?: boolean; data?: string } = {};
  if (input.email !== undefined) fields.email = checkEmail(input.email);
  if (input.password !== undefined) {
    if (!isPassword(input.password) || [...input.password].length < minPasswordLength) {
      throw invalid(
        `A password is a string of ${minPasswordLength} to ${MAX_PASSWORD_LENGTH} characters`,
      );
    }
    fields.password = input.password;
  }
  if (input.enabled !== undefined) {
    if (typeof input.enabled !== 'boolean') throw invalid('enabled must be true or false');
    fields.enabled = input.enabled;
  }
  if (input.data !== undefined) fields.data = checkData(input.data);
  return fields;
}

function checkEmail(value: unknown): string {
  if (typeof value !== 'string') throw invalid('A login name must be a string');
  const email = value.trim();
  if (
    email.length < MIN_EMAIL_LENGTH ||
    email.length > MAX_EMAIL_LENGTH ||
    !EMAIL_PATTERN.test(email)
  ) {
    throw invalid(
      `A login name is email-like (name@domain, no spaces), ${MIN_EMAIL_LENGTH} to ${MAX_EMAIL_LENGTH} characters`,
    );
  }
  return email;
}

function isPassword(value: unknown): value is string {
  return typeof value === 'string' && value.length >= 1 && value.length <= MAX_PASSWORD_LENGTH;
}

/** A plain object that survives JSON unchanged (no Dates, undefined, BigInt, cycles…). */
function checkData(value: unknown): string {
  if (!isPlainObject(value) || !isJson(value, 0)) throw invalid('data must be a plain JSON object');
  const json = JSON.stringify(value);
  if (Buffer.byteLength(json, 'utf8') > MAX_USER_DATA_BYTES) {
    throw invalid(`data is larger than ${MAX_USER_DATA_BYTES} bytes as JSON`);
  }
  return json;
}

/** Whether JSON.stringify then JSON.parse gives `value` back; cycles fail on depth. */
function isJson(value: unknown, depth: number): boolean {
  if (depth > MAX_DATA_DEPTH) return false;
  switch (typeof value) {
    case 'string':
    case 'boolean':
      return true;
    case 'number':
      return Number.isFinite(value) && !Object.is(value, -0);
    case 'object':
      if (value === null) return true;
      if (Array.isArray(value)) {
        // Array.from visits holes as undefined, which JSON would turn into null: they fail.
        return Array.from(value as unknown[], (item) => isJson(item, depth + 1)).every(Boolean);
      }
      return isPlainObject(value) && Object.values(value).every((item) => isJson(item, depth + 1));
    default:
      return false;
  }
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return false;
  const proto: unknown = Object.getPrototypeOf(value);
  return proto === Object.prototype || proto === null;
}

function toUser(row: PublicRow): PublicUser {
  return {
    id: row.id,
    email: row.email,
    enabled: row.enabled !== 0,
    createdAt: row.created_at,
    lastLoginAt: row.last_login_at,
    data: JSON.parse(row.data) as Record<string, unknown>,
  };
}

function isUniqueViolation(error: unknown): boolean {
  return (error as { code?: unknown } | null)?.code === 'SQLITE_CONSTRAINT_UNIQUE';
}

function invalid(message: string): SwitchboardError {
  return new SwitchboardError('SB_ERR_USER_INVALID', message);
}

function exists(email: string): SwitchboardError {
  return new SwitchboardError('SB_ERR_USER_EXISTS', `A user named ${JSON.stringify(email)} exists`);
}

function noSuchUser(idOrEmail: number | string): SwitchboardError {
  return new SwitchboardError('SB_ERR_NO_SUCH_USER', `No user ${JSON.stringify(idOrEmail)}`);
}
