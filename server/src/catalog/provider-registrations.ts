import {
  SERVER_ONLY,
  emptyMap,
  emptySet,
  own,
  endpointShape,
  isFunctionName,
  isReservedName,
  reservedNameError,
  SwitchboardError,
  type EndpointRegistration,
  type FunctionAccess,
  type FunctionRegistration,
  type FunctionSignature,
  type HttpMethod,
} from '@switchboard/shared';
import { scopeRefusal, type KeyScope } from '../store/key-scope.ts';
import type { Provider } from '../hub/provider.ts';
import type { EndpointTable } from './endpoint-table.ts';
import type { FunctionMeta, FunctionRegistry } from './registry.ts';

/**
 * What one provider (an uplink connection) has registered, kept in step with the shared
 * registry and endpoint table, and released all at once when the provider leaves.
 */
export class ProviderRegistrations {
  private functions = emptySet<string>();
  private endpoints = emptyMap<string, HttpMethod[]>();
  private withdrawn = false;

  constructor(
    private readonly provider: Provider,
    private readonly registry: FunctionRegistry,
    private readonly table: EndpointTable,
  ) {}

  /**
   * All or nothing: checks everything first and changes nothing when any item is refused —
   * SB_ERR_NAME_INVALID, SB_ERR_ENDPOINT_PATH_INVALID, SB_ERR_PERMISSION_DENIED (outside the
   * key's `scope`, every refused item named), SB_ERR_ENDPOINT_CONFLICT, SB_ERR_SCHEMA_INVALID or
   * SB_ERR_FUNCTION_CONFLICT. `scope` null: the key may register anything.
   */
  add(
    functions: readonly FunctionRegistration[],
    endpoints: readonly EndpointRegistration[],
    key: { name: string; scope: KeyScope | null } = { name: '', scope: null },
  ): number {
    // The decoder checks names and paths too; checked again here because a registration that
    // failed half-way through would leave the uplink serving part of what it asked for.
    for (const { name } of functions) {
      if (!isFunctionName(name))
        throw new SwitchboardError(
          'SB_ERR_NAME_INVALID',
          `Invalid function name ${JSON.stringify(name)}`,
        );
      if (isReservedName(name)) throw reservedNameError(name);
    }
    const shapes = new Map<string, string>();
    for (const { path } of endpoints) {
      const shape = endpointShape(path);
      const other = shapes.get(shape);
      if (other !== undefined && other !== path) {
        throw new SwitchboardError(
          'SB_ERR_ENDPOINT_CONFLICT',
          `Endpoints ${other} and ${path} in one registration would match the same URLs`,
        );
      }
      shapes.set(shape, path);
    }
    const refusal = scopeRefusal(
      key.scope,
      key.name,
      functions.map((registration) => registration.name),
      endpoints.map((registration) => registration.path),
    );
    if (refusal !== undefined) throw refusal;
    for (const registration of endpoints)
      this.table.check(registration.path, registration, this.provider);
    // Schemas compiled here, once per registration (SB_ERR_SCHEMA_INVALID refuses it all).
    const metas = functions.map((registration) =>
      this.registry.meta(accessOfRegistration(registration), signatureOf(registration)),
    );
    functions.forEach((registration, index) =>
      checkAccess(this.registry, registration.name, metas[index]!, this.provider),
    );
    this.apply(functions, metas, endpoints);
    return functions.length + endpoints.length;
  }

  /** Endpoints first (the table may still throw), undone if one fails; then functions. */
  private apply(
    functions: readonly FunctionRegistration[],
    metas: readonly FunctionMeta[],
    endpoints: readonly EndpointRegistration[],
  ): void {
    const addedPaths: string[] = [];
    try {
      for (const registration of endpoints) {
        const { path, methods } = registration;
        const previous = this.endpoints.get(path);
        if (previous !== undefined) this.table.remove(path, previous, this.provider);
        else addedPaths.push(path);
        (this.endpoints = own(this.endpoints)).set(path, methods);
        this.table.add(path, registration, this.provider);
      }
    } catch (error) {
      this.remove([], addedPaths);
      throw error;
    }
    functions.forEach(({ name }, index) => {
      (this.functions = own(this.functions)).add(name);
      this.registry.add(name, this.provider, metas[index]!);
    });
  }

  remove(names: readonly string[], paths: readonly string[]): void {
    for (const name of names) {
      if (this.functions.delete(name)) this.registry.remove(name, this.provider);
    }
    for (const path of paths) {
      const methods = this.endpoints.get(path);
      if (methods === undefined) continue;
      this.endpoints.delete(path);
      this.table.remove(path, methods, this.provider);
    }
  }

  /** The provider left: withdraw everything. */
  clear(): void {
    this.remove([...this.functions], [...this.endpoints.keys()]);
  }

  /**
   * Out of rotation (draining): gone from the registry and the endpoint table, so no new call
   * or request picks this provider, but still listed here for the operator until it leaves.
   */
  withdraw(): void {
    if (this.withdrawn) return;
    this.withdrawn = true;
    for (const name of this.functions) this.registry.remove(name, this.provider);
    for (const [path, methods] of this.endpoints) this.table.remove(path, methods, this.provider);
  }

  functionNames(): string[] {
    return [...this.functions];
  }

  endpointList(): Array<{ path: string; methods: string[] }> {
    return [...this.endpoints].map(([path, methods]) => ({ path, methods: [...methods] }));
  }
}

export function accessOfRegistration(registration: FunctionRegistration): FunctionAccess {
  if (registration.allowClients !== true && registration.requireUser === undefined)
    return SERVER_ONLY;
  return {
    allowClients: registration.allowClients === true,
    requireUser: registration.requireUser ?? 'no',
  };
}

/** The schemas of a registration, undefined when it declares none. */
export function signatureOf(registration: FunctionRegistration): FunctionSignature | undefined {
  const { args, returns } = registration;
  if (args === undefined && returns === undefined) return undefined;
  return {
    ...(args === undefined ? {} : { args }),
    ...(returns === undefined ? {} : { returns }),
  };
}

/**
 * Throws SB_ERR_FUNCTION_CONFLICT when others serve `name` with different access rules or
 * schemas: the first provider's stay until every provider of the name has left.
 */
export function checkAccess(
  registry: FunctionRegistry,
  name: string,
  meta: FunctionMeta,
  provider: Provider,
): void {
  if (registry.conflicts(name, meta, provider)) {
    throw new SwitchboardError(
      'SB_ERR_FUNCTION_CONFLICT',
      `${name} is live with different permissions (allowClients, requireUser) or schemas (args, returns); every provider of a function must register the same`,
    );
  }
}
