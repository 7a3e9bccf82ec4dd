import type { KeyRecord } from '../store/key-store.ts';
import type { PublicUser } from '../store/user-store.ts';

/** The admin API's JSON for a key (never the secret, never its hash). */
export interface KeyView {
  id: string;
  name: string;
  kind: 'server' | 'client';
  created_at: string;
  revoked: boolean;
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
