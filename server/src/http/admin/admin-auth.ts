import { SwitchboardError } from '@switchboard/shared';
import { parseTokenHeader } from '../../auth/bearer.ts';
import type { AdminTokenRecord, AdminTokenStore } from '../../store/admin-token-store.ts';

/** `WWW-Authenticate` of a 401 from the admin API. */
export const ADMIN_CHALLENGE = 'Token realm="switchboard-admin"';

/**
 * The admin token a request authenticates with. No header, or another scheme, is
 * SB_ERR_ADMIN_TOKEN_MISSING; an unknown or revoked token SB_ERR_ADMIN_TOKEN_INVALID. The store
 * looks tokens up by SHA-256 and compares in constant time.
 */
export function authenticate(
  tokens: Pick<AdminTokenStore, 'verify'>,
  header: string | undefined,
): AdminTokenRecord {
  const token = parseTokenHeader(header);
  if (token === undefined) throw new SwitchboardError('SB_ERR_ADMIN_TOKEN_MISSING');
  const record = tokens.verify(token);
  if (record === undefined) throw new SwitchboardError('SB_ERR_ADMIN_TOKEN_INVALID');
  return record;
}
