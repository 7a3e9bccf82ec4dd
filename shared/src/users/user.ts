/** A user as every API shows it: never the password or its hash. */
export interface User {
  id: number;
  /** The login name (email-like), unique case-insensitively. */
  email: string;
  enabled: boolean;
  /** Milliseconds since the epoch. */
  createdAt: number;
  /** Last successful sign-in, milliseconds since the epoch; null until the first one. */
  lastLoginAt: number | null;
  /** Free-form JSON object kept with the user (at most 64 KiB as JSON). */
  data: Record<string, unknown>;
}

/** What `users.create` takes. */
export interface NewUser {
  email: string;
  /** 1–1024 characters; no other strength rules are applied. */
  password: string;
  /** @default true */
  enabled?: boolean;
  /** @default {} */
  data?: Record<string, unknown>;
}

/** What `users.update` takes: only the fields given change (`data` is replaced as a whole). */
export interface UserChanges {
  email?: string;
  password?: string;
  enabled?: boolean;
  data?: Record<string, unknown>;
}

/** The built-in functions (reserved `sb.` names) through which server keys manage users. */
export const USER_FUNCTIONS = {
  create: 'sb.users.create',
  find: 'sb.users.find',
  list: 'sb.users.list',
  update: 'sb.users.update',
  remove: 'sb.users.remove',
} as const;
