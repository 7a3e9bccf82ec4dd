import {
  isReservedName,
  reservedNameError,
  type EndpointRegistration,
  type FunctionRegistration,
  type HttpMethod,
} from '@switchboard/shared';
import type { EndpointTable } from './endpoint-table.ts';
import type { Provider } from './provider.ts';
import type { Registry } from './registry.ts';

/**
 * What one provider (an uplink connection) has registered, kept in step with the shared
 * registry and endpoint table, and released all at once when the provider leaves.
 */
export class ProviderRegistrations {
  private readonly functions = new Set<string>();
  private readonly endpoints = new Map<string, HttpMethod[]>();

  constructor(
    private readonly provider: Provider,
    private readonly registry: Registry,
    private readonly table: EndpointTable,
  ) {}

  /**
   * All or nothing: throws SB_ERR_NAME_INVALID (a reserved `sb.` name) or
   * SB_ERR_ENDPOINT_CONFLICT before changing anything.
   */
  add(
    functions: readonly FunctionRegistration[],
    endpoints: readonly EndpointRegistration[],
  ): number {
    for (const { name } of functions) if (isReservedName(name)) throw reservedNameError(name);
    for (const { path } of endpoints) this.table.check(path);
    for (const { name } of functions) {
      this.functions.add(name);
      this.registry.add(name, this.provider);
    }
    for (const { path, methods } of endpoints) {
      const previous = this.endpoints.get(path);
      if (previous !== undefined) this.table.remove(path, previous, this.provider);
      this.endpoints.set(path, methods);
      this.table.add(path, methods, this.provider);
    }
    return functions.length + endpoints.length;
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
}
