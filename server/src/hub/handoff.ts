import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import type { EndpointTable } from '../catalog/endpoint-table.ts';
import type { FunctionRegistry } from '../catalog/registry.ts';
import type { Provider } from './provider.ts';

/** Longest wait for a moving uplink's registrations to show up on another server. */
export const HANDOFF_MAX_MS = 2_000;
const CHECK_MS = 25;

/** What an uplink serves, as its connection lists it. */
export interface Served {
  functions(): string[];
  endpoints(): Array<{ path: string; methods: string[] }>;
}

const remote = (provider: Provider): boolean => provider.node !== undefined && provider.accepting;

/** Whether another server of the cluster serves every function and endpoint of `served`. */
export function servedElsewhere(
  served: Served,
  registry: FunctionRegistry,
  endpoints: EndpointTable,
): boolean {
  if (!served.functions().every((name) => registry.providersOf(name).some(remote))) return false;
  const live = new Map(endpoints.live(remote).map((entry) => [entry.pattern, entry.methods]));
  return served
    .endpoints()
    .every(({ path, methods }) =>
      methods.every((method) => live.get(path)?.includes(method as never) === true),
    );
}

/**
 * An uplink told `goaway` asks to be drained once it has registered on another server (it moves,
 * see docs/cluster.md). Before it leaves rotation here, this waits (at most HANDOFF_MAX_MS) until
 * this server sees its functions and endpoints served by another one: the others learn it by the
 * same heartbeat, so no server is left, even for a moment, without a provider to send calls to.
 */
export async function awaitHandoff(
  served: Served,
  registry: FunctionRegistry,
  endpoints: EndpointTable,
): Promise<void> {
  const until = performance.now() + HANDOFF_MAX_MS;
  while (!servedElsewhere(served, registry, endpoints) && performance.now() < until)
    await sleep(CHECK_MS);
}
