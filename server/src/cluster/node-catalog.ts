import {
  canonicalJson,
  functionSignature,
  isReservedName,
  toSwitchboardError,
  type EndpointRegistration,
  type FunctionAccess,
  type FunctionSignature,
} from '@switchboard/shared';
import type { FastifyBaseLogger } from 'fastify';
import type { EndpointTable } from '../catalog/endpoint-table.ts';
import { checkAccess } from '../catalog/provider-registrations.ts';
import type { FunctionRegistry } from '../catalog/registry.ts';
import type { Provider } from '../hub/provider.ts';

/** What one server serves itself, as it tells the others. */
export interface NodeCatalog {
  /** `signature`: the function's schemas, so the server a call enters checks its arguments. */
  functions: Array<{ name: string; access: FunctionAccess; signature?: FunctionSignature }>;
  endpoints: EndpointRegistration[];
}

/** The catalog's parts this process serves (its own providers), built-in names left out. */
export function localCatalog(registry: FunctionRegistry, endpoints: EndpointTable): NodeCatalog {
  const own = (provider: Provider) => provider.node === undefined;
  return {
    functions: registry
      .names()
      .filter(({ name }) => !isReservedName(name) && registry.providersOf(name).some(own))
      .map(({ name, meta }) => ({
        name,
        access: { allowClients: meta.allowClients, requireUser: meta.requireUser },
        ...(meta.signature === undefined ? {} : { signature: meta.signature }),
      })),
    endpoints: endpoints.live(own).map(({ pattern, methods, policy, doc }) => ({
      path: pattern,
      methods: [...methods],
      ...(policy === undefined ? {} : { policy }),
      ...doc,
    })),
  };
}

/** A catalog's content, to tell a change from a repeat. */
export function catalogKey(catalog: NodeCatalog): string {
  return canonicalJson(catalog);
}

/**
 * Puts another server's catalog into this one's registry and endpoint table under `provider`
 * (its link). An entry this server cannot take (a function live here with other access rules or
 * schemas, or whose schemas do not compile; an endpoint with another policy or schema) is left out and logged; the rest is served.
 */
export function addCatalog(
  target: { registry: FunctionRegistry; endpoints: EndpointTable; log: FastifyBaseLogger },
  provider: Provider,
  catalog: NodeCatalog,
): void {
  const { registry, endpoints, log } = target;
  for (const { name, access, signature } of catalog.functions) {
    try {
      const meta = registry.meta(access, signature); // compiled here too: calls enter here
      checkAccess(registry, name, meta, provider);
      registry.add(name, provider, meta);
    } catch (error) {
      log.warn(
        { node: provider.node, name, err: toSwitchboardError(error) },
        'remote function left out',
      );
    }
  }
  for (const registration of catalog.endpoints) {
    try {
      endpoints.add(registration.path, registration, provider);
    } catch (error) {
      log.warn(
        { node: provider.node, path: registration.path, err: toSwitchboardError(error) },
        'remote endpoint left out',
      );
    }
  }
}

/** Takes a catalog added with addCatalog out again. */
export function removeCatalog(
  target: { registry: FunctionRegistry; endpoints: EndpointTable },
  provider: Provider,
  catalog: NodeCatalog,
): void {
  for (const { name } of catalog.functions) target.registry.remove(name, provider);
  for (const { path, methods } of catalog.endpoints)
    target.endpoints.remove(path, methods, provider);
}

/** Checks a catalog received from another server (servers trust each other, but not blindly). */
export function isNodeCatalog(value: unknown): value is NodeCatalog {
  const catalog = value as Partial<NodeCatalog> | null;
  return (
    typeof catalog === 'object' &&
    catalog !== null &&
    Array.isArray(catalog.functions) &&
    catalog.functions.every(
      (entry) =>
        typeof entry?.name === 'string' &&
        typeof entry.access === 'object' &&
        entry.access !== null &&
        typeof entry.access.allowClients === 'boolean' &&
        (entry.signature === undefined || isSignature(entry.signature)),
    ) &&
    Array.isArray(catalog.endpoints) &&
    catalog.endpoints.every(
      (entry) => typeof entry?.path === 'string' && Array.isArray(entry.methods),
    )
  );
}

function isSignature(value: unknown): boolean {
  if (typeof value !== 'object' || value === null) return false;
  try {
    return functionSignature(value) !== undefined;
  } catch {
    return false;
  }
}
