import { SwitchboardError } from '@switchboard/shared';
import { trustFunction, type TrustProxy } from './http/client-address.ts';
import { DEFAULT_OPENAPI_INFO } from './option-defaults.ts';
import type { SwitchboardOptions } from './option-types.ts';

/** How option values are checked and normalised; used by resolveOptions. */

export function trustProxyOption(
  value: TrustProxy | undefined,
): boolean | number | readonly string[] {
  if (value === undefined) return false;
  if (typeof value !== 'boolean' && typeof value !== 'number' && !Array.isArray(value))
    throw invalid('trustProxy must be true, false, a hop count or a list of addresses');
  trustFunction(value); // throws for a bad count or address
  return typeof value === 'object' ? Object.freeze([...(value as readonly string[])]) : value;
}

export function openApiInfo(
  value: SwitchboardOptions['openapi'],
): { title: string; version: string; description?: string } | undefined {
  if (value === false) return undefined;
  if (value === undefined) return DEFAULT_OPENAPI_INFO;
  if (typeof value !== 'object' || value === null)
    throw invalid('openapi must be false or { title?, version?, description? }');
  const info: { title: string; version: string; description?: string } = {
    ...DEFAULT_OPENAPI_INFO,
  };
  for (const key of ['title', 'version', 'description'] as const) {
    const item = value[key];
    if (item === undefined) continue;
    if (typeof item !== 'string' || item === '')
      throw invalid(`openapi.${key} must be a non-empty string`);
    info[key] = item;
  }
  return Object.freeze(info);
}

export function publicOrigin(value: string | undefined): string | undefined {
  if (value === undefined || value === '') return undefined;
  return originOption(value, 'publicOrigin');
}

export function originOption(value: string, what: string): string {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw invalid(
      `${what} must be URLs like https://api.example.com, got ${JSON.stringify(value)}`,
    );
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:')
    throw invalid(`${what} must be http or https`);
  return url.origin;
}

export function invalid(message: string): SwitchboardError {
  return new SwitchboardError('SB_ERR_OPTIONS_INVALID', message);
}

/** A NATS server URL: `nats://`, `tls://`, `ws://` or `wss://` with a host. */
const NATS_URL = /^(nats|tls|ws|wss):\/\/[^\s/]+(\/.*)?$/;
/** A node name is one NATS subject token and readable in logs. */
const NODE_NAME = /^[A-Za-z0-9_-]{1,64}$/;

/** The `cluster` option checked: undefined (single server) when it names no NATS server. */
export function clusterOption(
  value: { servers: string[]; nodeName?: string; stateReplicas?: number } | undefined,
): { servers: readonly string[]; nodeName: string | undefined; stateReplicas: number } | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== 'object' || value === null || !Array.isArray(value.servers))
    throw invalid(
      'cluster must be { servers: string[], nodeName?: string, stateReplicas?: number }',
    );
  if (value.servers.length === 0) return undefined;
  for (const url of value.servers) {
    if (typeof url !== 'string' || !NATS_URL.test(url))
      throw invalid(`cluster.servers: ${JSON.stringify(url)} is not a NATS URL (nats://host:port)`);
  }
  const { nodeName } = value;
  if (nodeName !== undefined && (typeof nodeName !== 'string' || !NODE_NAME.test(nodeName)))
    throw invalid('cluster.nodeName must be 1-64 letters, digits, _ or -');
  const { stateReplicas = 1 } = value;
  if (!Number.isInteger(stateReplicas) || stateReplicas < 1 || stateReplicas > 5)
    throw invalid('cluster.stateReplicas must be an integer from 1 to 5 (JetStream replicas)');
  return Object.freeze({ servers: Object.freeze([...value.servers]), nodeName, stateReplicas });
}
