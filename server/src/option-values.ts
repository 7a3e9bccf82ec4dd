import { SwitchboardError } from '@switchboard/shared';
import { parseTrustProxy, trustFunction, type TrustProxy } from './http/client-address.ts';
import { DEFAULT_OPENAPI_INFO } from './option-defaults.ts';
import type { SwitchboardOptions } from './options.ts';

/** How option values are read from `SWITCHBOARD_*` variables and checked; used by resolveOptions. */

export function trustProxyOption(
  value: TrustProxy | undefined,
  env: NodeJS.ProcessEnv,
): boolean | number | readonly string[] {
  if (value === undefined) {
    const raw = env.SWITCHBOARD_TRUST_PROXY;
    return raw === undefined ? false : parseTrustProxy(raw, 'SWITCHBOARD_TRUST_PROXY');
  }
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

export function envList(env: NodeJS.ProcessEnv, name: string): string[] {
  const raw = env[name];
  if (raw === undefined || raw.trim() === '') return [];
  return raw
    .split(',')
    .map((item) => item.trim())
    .filter((item) => item !== '');
}

export function envBool(env: NodeJS.ProcessEnv, name: string): boolean | undefined {
  const raw = env[name]?.trim().toLowerCase();
  if (raw === undefined || raw === '') return undefined;
  if (raw === 'true' || raw === '1' || raw === 'yes') return true;
  if (raw === 'false' || raw === '0' || raw === 'no') return false;
  throw invalid(`${name} must be true or false, got ${JSON.stringify(env[name])}`);
}

export function envInt(env: NodeJS.ProcessEnv, name: string): number | undefined {
  const raw = env[name];
  if (raw === undefined || raw === '') return undefined;
  const value = Number(raw);
  if (!Number.isInteger(value))
    throw invalid(`${name} must be an integer, got ${JSON.stringify(raw)}`);
  return value;
}

export function invalid(message: string): SwitchboardError {
  return new SwitchboardError('SB_ERR_OPTIONS_INVALID', message);
}
