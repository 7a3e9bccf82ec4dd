import type { IncomingMessage } from 'node:http';
import proxyAddr from '@fastify/proxy-addr';
import { SwitchboardError } from '@switchboard/shared';

/**
 * Which proxies are believed when they say who the client is (`X-Forwarded-For`) and how it
 * connected (`X-Forwarded-Proto`, `X-Forwarded-Host`): none (`false`), every peer (`true`), the
 * nearest `n` hops, or the peers whose address is in a list of addresses, CIDR ranges and the
 * names `loopback`, `linklocal`, `uniquelocal`.
 */
export type TrustProxy = boolean | number | readonly string[];

/** Whether the `i`-th hop (0: the socket's peer) at `address` may speak for the client. */
export type TrustFunction = (address: string, i: number) => boolean;

const TRUST_NONE: TrustFunction = () => false;
const TRUST_ALL: TrustFunction = () => true;

/**
 * The trust rule of a `trustProxy` setting. A hop count trusts the nearest `n` peers whatever
 * their address (as Express does; Fastify itself now trusts nothing for a number), which is safe
 * only when the server cannot be reached except through those proxies. Throws
 * SB_ERR_OPTIONS_INVALID for a bad address or count.
 */
export function trustFunction(trust: TrustProxy): TrustFunction {
  if (trust === false) return TRUST_NONE;
  if (trust === true) return TRUST_ALL;
  if (typeof trust === 'number') {
    if (!Number.isSafeInteger(trust) || trust < 0)
      throw invalid(`trustProxy hop count must be a non-negative integer, got ${trust}`);
    return (_address, i) => i < trust;
  }
  try {
    return proxyAddr.compile([...trust]);
  } catch (error) {
    throw invalid(`trustProxy: ${error instanceof Error ? error.message : String(error)}`);
  }
}

/**
 * Reads a `trustProxy` setting from text (flag or environment): `true`, `false`, a hop count,
 * or a comma-separated list of addresses and CIDR ranges.
 */
export function parseTrustProxy(text: string, from: string): TrustProxy {
  const value = text.trim();
  if (value === 'true') return true;
  if (value === 'false' || value === '') return false;
  if (/^\d+$/.test(value)) return Number(value);
  const list = value
    .split(',')
    .map((item) => item.trim())
    .filter((item) => item !== '');
  try {
    trustFunction(list);
  } catch (error) {
    throw invalid(`${from}: ${error instanceof SwitchboardError ? error.message : String(error)}`);
  }
  return list;
}

/**
 * The address of the client behind `req` under a trust rule: the socket's peer, or, when that
 * peer is a trusted proxy, the nearest untrusted address in `X-Forwarded-For`. For the HTTP door
 * and for the WebSocket upgrade request alike (Fastify's `request.ip` uses the same rule).
 */
export function clientAddressFunction(trust: TrustProxy): (req: IncomingMessage) => string {
  if (trust === false) return (req) => req.socket.remoteAddress ?? '';
  const rule = trustFunction(trust);
  return (req) => {
    if (req.socket.remoteAddress === undefined) return '';
    return proxyAddr(req, rule);
  };
}

/**
 * What Fastify's `trustProxy` option gets for a setting: the same rule, so `request.ip`,
 * `request.protocol` and `request.host` agree with `clientAddressFunction`.
 */
export function fastifyTrustProxy(trust: TrustProxy): boolean | TrustFunction {
  if (trust === false) return false;
  if (trust === true) return true;
  return trustFunction(trust);
}

function invalid(message: string): SwitchboardError {
  return new SwitchboardError('SB_ERR_OPTIONS_INVALID', message);
}
