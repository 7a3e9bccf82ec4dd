import { SwitchboardError } from '@switchboard/shared';

export interface BasicCredentials {
  username: string;
  password: string;
}

/**
 * Reads `Authorization: Basic <base64(user:password)>`. Absent or another scheme → undefined;
 * a Basic header that is not well formed → SB_ERR_HTTP_BAD_AUTH_HEADER.
 */
export function parseBasicCredentials(header: string | undefined): BasicCredentials | undefined {
  if (header === undefined) return undefined;
  const space = header.indexOf(' ');
  const scheme = (space === -1 ? header : header.slice(0, space)).toLowerCase();
  if (scheme !== 'basic') return undefined;
  const token = space === -1 ? '' : header.slice(space + 1).trim();
  if (!/^[A-Za-z0-9+/]+={0,2}$/.test(token) || token.length % 4 !== 0) {
    throw malformed('the Basic credentials are not base64');
  }
  const decoded = Buffer.from(token, 'base64').toString('utf8');
  const colon = decoded.indexOf(':');
  if (colon === -1) throw malformed('Basic credentials must be username:password');
  return { username: decoded.slice(0, colon), password: decoded.slice(colon + 1) };
}

function malformed(message: string): SwitchboardError {
  return new SwitchboardError(
    'SB_ERR_HTTP_BAD_AUTH_HEADER',
    `Malformed Authorization header: ${message}`,
  );
}
