import type { User } from '../users/user.ts';

/** The kinds of key an uplink may hold. */
export const KEY_KINDS = ['server', 'client'] as const;
export type KeyKind = (typeof KEY_KINDS)[number];

/** Who made a call, as the function being called sees it. */
export interface CallerInfo {
  kind: 'uplink' | 'app' | 'http';
  /** Name of the key the caller authenticated with (uplink and http callers). */
  keyName?: string;
  keyKind?: KeyKind;
  /** The calling uplink's self-chosen name, when it gave one. */
  uplinkName?: string;
  /** Server-assigned id of the calling uplink connection. */
  connectionId?: string;
  /** The signed-in user of an HTTP caller (Basic credentials or the session's user). */
  user?: User;
}
