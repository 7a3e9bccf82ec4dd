import type { FunctionRegistry } from '../../catalog/registry.ts';
import type { EndpointTable } from '../../catalog/endpoint-table.ts';
import type { CallStats } from '../../observe/call-stats.ts';
import type { Cluster } from '../../cluster/cluster.ts';
import type { ResolvedOptions } from '../../options.ts';
import type { AdminTokenStore } from '../../store/admin-token-store.ts';
import type { KeyStore } from '../../store/key-store.ts';
import type { UserStore } from '../../store/user-store.ts';
import type { UserTokenStore } from '../../store/user-token-store.ts';
import type { Schedules } from '../../schedules/schedules.ts';
import type { Tasks } from '../../tasks/tasks.ts';

/** A live uplink as the admin API reads it. */
export interface AdminUplink {
  readonly providerId: string;
  /** The protocol it speaks: Switchboard's own, or Anvil's uplink protocol. */
  readonly dialect: 'switchboard' | 'anvil';
  readonly name: string | null;
  readonly keyName: string;
  readonly remoteAddress: string;
  /** When its WebSocket was accepted (epoch ms). */
  readonly connectedAt: number;
  readonly inFlight: number;
  readonly draining: boolean;
  functions(): string[];
  endpoints(): Array<{ path: string; methods: string[] }>;
}

/** The operator's handles on live uplinks (the hub's). */
export interface AdminUplinks {
  uplinks(): AdminUplink[];
  find(providerId: string): AdminUplink | undefined;
  drain(providerId: string): boolean;
  disconnect(providerId: string): boolean;
}

/**
 * All the admin API reads and acts on, and nothing else: the core passes itself, but the routes
 * see only these members, so they do not import the core (which registers them).
 */
export interface AdminServices {
  readonly options: Pick<ResolvedOptions, 'adminRateLimits' | 'debug'>;
  readonly adminTokens: Pick<AdminTokenStore, 'verify'>;
  readonly keys: Pick<KeyStore, 'list' | 'create' | 'get'>;
  readonly users: Pick<UserStore, 'list' | 'create' | 'find' | 'update' | 'remove'>;
  readonly userTokens: Pick<UserTokenStore, 'create' | 'list' | 'get' | 'revoke'>;
  readonly registry: Pick<FunctionRegistry, 'names' | 'providersOf'>;
  readonly endpoints: Pick<EndpointTable, 'list'>;
  readonly stats: Pick<CallStats, 'forFunction' | 'forEndpoint' | 'forProvider' | 'recentErrors'>;
  readonly hub: AdminUplinks;
  /** Background tasks: list, read, kill. */
  readonly tasks: Pick<Tasks, 'list' | 'get' | 'kill'>;
  /** This server's part in a cluster (undefined when it runs alone). */
  readonly cluster: Pick<Cluster, 'view'> | undefined;
  /** Schedules: their records, runs launched now, their history. */
  readonly schedules: Pick<
    Schedules,
    'list' | 'create' | 'get' | 'update' | 'remove' | 'runNow' | 'history'
  >;
  /** Revokes a stored key and closes its live uplinks (SB_ERR_NO_SUCH_KEY if there is none). */
  revokeKey(id: string): void;
}
