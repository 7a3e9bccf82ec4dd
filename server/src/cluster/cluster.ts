import { nanoid } from 'nanoid';
import { Events, connect, type Msg, type NatsConnection } from 'nats';
import { SwitchboardError, decodeValue, encodeValue, type MessageSink } from '@switchboard/shared';
import type { FastifyBaseLogger } from 'fastify';
import type { ResolvedOptions } from '../options.ts';
import type { EndpointTable } from '../catalog/endpoint-table.ts';
import type { FunctionRegistry } from '../catalog/registry.ts';
import type { Dispatcher } from '../hub/dispatcher.ts';
import type { ClusterHealth } from '../http/health-routes.ts';
import type { ReplicaTables } from '../store/replica-tables.ts';
import { NodeLink } from './node-link.ts';
import { storedNodeName } from './node-name.ts';
import { StateReplica, type ReplicaHooks } from './state-replica.ts';
import { SharedCounts } from './shared-counts.ts';
import { ClusterScheduleClaims } from './schedule-claims.ts';
import { DEPARTED_SWEEP_DELAY_MS, interruptDeparted, type ClusterTasks } from './cluster-tasks.ts';
import {
  addCatalog,
  catalogKey,
  isNodeCatalog,
  localCatalog,
  removeCatalog,
  type NodeCatalog,
} from './node-catalog.ts';

/** How often every server says it is alive (and its catalog's version). */
export const HEARTBEAT_MS = 250;
/** A server unheard for this long has left: its calls fail, its catalog goes. */
export const MEMBER_EXPIRY_MS = 2_000;
/** How long a closing server tries to send its last changes to the shared state. */
const STATE_FLUSH_MS = 1_000;
/**
 * A server that just joined is not ready (/readyz 503, `joining`) until it has heard the others
 * (two heartbeats) and served each one's catalog, or for this long at most.
 */
const JOIN_MAX_MS = 5_000;
/** How long a catalog request may take. */
const CATALOG_REQUEST_MS = 2_000;

const SUBJECT = {
  heartbeat: 'sb.hb',
  catalog: (node: string) => `sb.node.${node}.catalog`,
  /** Frames from `from` to `to`: calls and requests (and what goes with them). */
  calls: (to: string, from: string) => `sb.node.${to}.in.${from}`,
  /** Frames from `from` to `to`: answers to `to`'s calls (and what goes with them). */
  answers: (to: string, from: string) => `sb.node.${to}.out.${from}`,
} as const;

interface Heartbeat {
  node: string;
  incarnation: string;
  /** Grows with every change of the server's own catalog. */
  version: number;
  /** Sent once by a server shutting down: drop it now. */
  leaving?: boolean;
}

/** Another server, as this one knows it. */
interface Member {
  readonly link: NodeLink;
  lastSeenAt: number;
  /** The version its last heartbeat announced. */
  version: number;
  /** The catalog of it served here, and its version. */
  applied: { version: number; catalog: NodeCatalog } | undefined;
  fetching: boolean;
}

/** The cluster as `GET /_/admin/api/cluster/` shows it. */
export interface ClusterView {
  node: string;
  connected: boolean;
  peers: Array<{
    node: string;
    /** Our calls to it not answered yet. */
    in_flight: number;
    functions: string[];
    endpoints: Array<{ path: string; methods: string[] }>;
  }>;
}

export interface ClusterDeps {
  readonly options: ResolvedOptions;
  readonly registry: FunctionRegistry;
  readonly endpoints: EndpointTable;
  readonly dispatcher: Dispatcher;
  readonly log: FastifyBaseLogger;
  /** The shared tables of this server's store, and what the replica tells the server. */
  readonly tables: ReplicaTables;
  readonly state: ReplicaHooks;
  /** This server's background tasks: relayed calls, and the tasks of servers that left. */
  readonly tasks?: ClusterTasks;
}

/**
 * This server's part in a cluster on NATS (docs/cluster.md): it says it is alive, tells the
 * others what it serves, serves their catalogs here through one link per server, and drops a
 * server that goes silent.
 */
export class Cluster {
  readonly node: string;
  readonly incarnation = nanoid(10);
  private nc: NatsConnection | undefined;
  private readonly members = new Map<string, Member>();
  private timer: NodeJS.Timeout | undefined;
  private version = 0;
  private catalog: NodeCatalog = { functions: [], endpoints: [] };
  private catalogText = catalogKey(this.catalog);
  private seen = { registry: -1, endpoints: -1 };
  private closed = false;
  /** Keys, users, sessions, admin tokens and the secret, shared through JetStream KV. */
  readonly replica: StateReplica;
  /** Rate-limit hits of every server (the door's limits count on `limits.counts`). */
  readonly limits: SharedCounts;
  /** Who launches each scheduled run: one server of the cluster. */
  readonly scheduleClaims: ClusterScheduleClaims;
  /** Shutting down: the catalog we tell is empty (see departure.ts). */
  private withdrawn = false;
  /** The catalog version each other server last fetched from us. */
  private readonly fetched = new Map<string, number>();

  constructor(private readonly deps: ClusterDeps) {
    const { cluster, dataDir } = deps.options;
    if (cluster === undefined) throw new Error('not clustered');
    this.node = cluster.nodeName ?? storedNodeName(dataDir);
    this.replica = new StateReplica(
      deps.tables,
      { node: this.node, replicas: cluster.stateReplicas },
      deps.log,
      deps.state,
    );
    deps.tables.onLocalChange(() => this.replica.schedule());
    this.limits = new SharedCounts(this.node);
    this.scheduleClaims = new ClusterScheduleClaims(
      { node: this.node, replicas: cluster.stateReplicas },
      this.replica.whenSynced,
      deps.log,
    );
  }

  /** Connected to NATS now. */
  connected = false;
  /** When the server started joining, and when NATS first connected (Date.now(); 0 before). */
  private startedAt = 0;
  private joinedAt = 0;

  /** Other servers alive now, by node name. */
  peers(): string[] {
    return [...this.members.keys()];
  }

  /** For the admin API: this server, NATS, and what every other server serves here. */
  view(): ClusterView {
    return {
      node: this.node,
      connected: this.connected,
      peers: [...this.members].map(([node, member]) => ({
        node,
        in_flight: member.link.inFlight,
        functions: member.applied?.catalog.functions.map(({ name }) => name) ?? [],
        endpoints:
          member.applied?.catalog.endpoints.map(({ path, methods }) => ({ path, methods })) ?? [],
      })),
    };
  }

  /** For /readyz: who this server is, whether NATS is reachable, whom it sees. */
  health(): ClusterHealth {
    const health: ClusterHealth = {
      node: this.node,
      connected: this.connected,
      peers: this.peers(),
    };
    if (this.joining()) health.joining = true;
    return health;
  }

  /**
   * Just connected: the others' heartbeats may not all have come, or their catalogs not been
   * served here yet, so calls to their functions could miss. A load balancer should wait.
   */
  private joining(): boolean {
    // Not connected yet: joining for a while; then serving its own uplinks alone (degraded).
    if (this.joinedAt === 0) return Date.now() - this.startedAt < JOIN_MAX_MS;
    if (!this.connected) return false;
    const since = Date.now() - this.joinedAt;
    if (since >= JOIN_MAX_MS) return false;
    if (since < 2 * HEARTBEAT_MS) return true;
    for (const member of this.members.values())
      if (member.version >= 0 && member.applied?.version !== member.version) return true;
    return false;
  }

  /** Connects (retrying in the background until NATS is there) and starts the heartbeat. */
  start(): void {
    const servers = [...this.deps.options.cluster!.servers];
    this.startedAt = Date.now();
    this.timer = setInterval(() => this.beat(), HEARTBEAT_MS);
    this.timer.unref();
    connect({
      servers,
      name: `switchboard ${this.node}`,
      waitOnFirstConnect: true,
      maxReconnectAttempts: -1,
      reconnectTimeWait: 250,
      noAsyncTraces: true,
    }).then(
      (nc) => {
        if (this.closed) {
          void nc.close();
          return;
        }
        this.nc = nc;
        this.connected = true;
        this.joinedAt = Date.now();
        this.subscribe(nc);
        this.replica.start(nc);
        this.limits.start(nc);
        this.scheduleClaims.start(nc);
        this.deps.log.info({ node: this.node, servers }, 'joined the cluster');
        void this.watch(nc);
        this.beat();
      },
      (error: unknown) => this.deps.log.error({ err: error }, 'cannot connect to NATS'),
    );
  }

  private subscribe(nc: NatsConnection): void {
    const me = this.node;
    nc.subscribe(SUBJECT.heartbeat, { callback: (_e, msg) => this.heartbeat(msg) });
    nc.subscribe(SUBJECT.calls(me, '*'), {
      callback: (_e, msg) => this.linkFor(lastToken(msg.subject))?.callsIn(msg.data),
    });
    nc.subscribe(SUBJECT.answers(me, '*'), {
      callback: (_e, msg) => this.linkFor(lastToken(msg.subject))?.answersIn(msg.data),
    });
    nc.subscribe(SUBJECT.catalog(me), {
      callback: (_e, msg) => {
        this.noteFetch(msg.data);
        msg.respond(encodeValue({ version: this.version, catalog: this.catalog }));
      },
    });
  }

  /** NATS comes and goes; the server serves its own providers meanwhile. */
  private async watch(nc: NatsConnection): Promise<void> {
    for await (const status of nc.status()) {
      if (status.type === Events.Disconnect) this.connected = false;
      else if (status.type === Events.Reconnect) this.connected = true;
      else continue;
      this.deps.log.warn({ node: this.node, status: status.type }, 'NATS connection');
    }
  }

  /** Every HEARTBEAT_MS: our catalog if it changed, our heartbeat, and who went silent. */
  private beat(): void {
    this.refreshCatalog();
    this.publish(SUBJECT.heartbeat, {
      node: this.node,
      incarnation: this.incarnation,
      version: this.version,
    } satisfies Heartbeat);
    const now = Date.now();
    for (const [node, member] of this.members) {
      if (now - member.lastSeenAt > MEMBER_EXPIRY_MS) this.drop(node, 'stopped answering');
    }
  }

  private refreshCatalog(): void {
    const { registry, endpoints } = this.deps;
    if (this.seen.registry === registry.version && this.seen.endpoints === endpoints.version)
      return;
    this.seen = { registry: registry.version, endpoints: endpoints.version };
    const catalog = this.withdrawn
      ? { functions: [], endpoints: [] }
      : localCatalog(registry, endpoints);
    const text = catalogKey(catalog);
    if (text === this.catalogText) return;
    this.catalog = catalog;
    this.catalogText = text;
    this.version++;
  }

  private heartbeat(msg: Msg): void {
    let beat: Heartbeat;
    try {
      beat = decodeValue(msg.data) as Heartbeat;
    } catch {
      return;
    }
    if (typeof beat?.node !== 'string' || beat.node === this.node) return;
    if (beat.leaving === true) {
      this.drop(beat.node, 'left');
      return;
    }
    let member = this.members.get(beat.node);
    // A link made on the server's first message (before its heartbeat) learns its incarnation.
    if (member?.link.incarnation === '') member.link.incarnation = beat.incarnation;
    if (member !== undefined && member.link.incarnation !== beat.incarnation) {
      this.drop(beat.node, 'restarted');
      member = undefined;
    }
    member ??= this.join(beat.node, beat.incarnation);
    member.lastSeenAt = Date.now();
    member.version = beat.version;
    if (member.applied?.version !== beat.version) void this.fetchCatalog(beat.node, member);
  }

  /** The link to `node`, made on its first message if its heartbeat has not come yet. */
  private linkFor(node: string): NodeLink | undefined {
    if (node === this.node || node === '') return undefined;
    return (this.members.get(node) ?? this.join(node, '')).link;
  }

  private join(node: string, incarnation: string): Member {
    const link = new NodeLink(node, incarnation, this.deps, {
      calls: this.sink(SUBJECT.calls(node, this.node)),
      answers: this.sink(SUBJECT.answers(node, this.node)),
    });
    const member: Member = {
      link,
      lastSeenAt: Date.now(),
      version: -1,
      applied: undefined,
      fetching: false,
    };
    this.members.set(node, member);
    if (incarnation !== '') this.deps.log.info({ node }, 'server joined the cluster');
    return member;
  }

  private async fetchCatalog(node: string, member: Member): Promise<void> {
    const nc = this.nc;
    if (member.fetching || nc === undefined) return;
    member.fetching = true;
    try {
      const reply = await nc.request(SUBJECT.catalog(node), encodeValue({ node: this.node }), {
        timeout: CATALOG_REQUEST_MS,
      });
      const { version, catalog } = decodeValue(reply.data) as { version: number; catalog: unknown };
      if (this.members.get(node) !== member || !isNodeCatalog(catalog)) return;
      if (member.applied !== undefined)
        removeCatalog(this.deps, member.link, member.applied.catalog);
      addCatalog(this.deps, member.link, catalog);
      member.applied = { version, catalog };
    } catch (error) {
      this.deps.log.debug({ node, err: error }, 'catalog request failed; next heartbeat retries');
    } finally {
      member.fetching = false;
    }
  }

  /** `node` left: calls to it fail now, its catalog goes. */
  private drop(node: string, why: string): void {
    const member = this.members.get(node);
    if (member === undefined) return;
    this.members.delete(node);
    if (member.applied !== undefined) removeCatalog(this.deps, member.link, member.applied.catalog);
    member.link.close(
      new SwitchboardError('SB_ERR_UPLINK_DISCONNECTED', `Server ${node} ${why} (cluster)`),
    );
    this.deps.log.warn({ node, why }, 'server left the cluster');
    // A restarted server ends its own old tasks (and may run new ones under the same name).
    if (why !== 'restarted' && !this.closed)
      setTimeout(() => this.interruptDeparted(), DEPARTED_SWEEP_DELAY_MS).unref();
  }

  /** The unfinished tasks of servers no longer in the cluster end as interrupted. */
  private interruptDeparted(): void {
    const { tasks, log } = this.deps;
    if (tasks === undefined || this.closed || !this.connected) return;
    for (const node of interruptDeparted(this.node, this.peers(), tasks))
      log.warn({ node }, 'tasks of a server that left the cluster: interrupted');
  }

  private sink(subject: string): MessageSink {
    return {
      send: (message) => this.nc?.publish(subject, message),
      sendParts: (parts, byteLength) => this.nc?.publish(subject, Buffer.concat(parts, byteLength)),
    };
  }

  private publish(subject: string, value: unknown): void {
    if (this.nc === undefined || this.nc.isClosed()) return;
    this.nc.publish(subject, encodeValue(value));
  }

  // -------------------------------------------------------------------------------------------
  // Leaving gracefully (departure.ts drives it).

  /** Who fetched which version of our catalog (the request names the server, if it is new). */
  private noteFetch(data: Uint8Array): void {
    if (data.byteLength === 0) return;
    try {
      const { node } = decodeValue(data) as { node?: unknown };
      if (typeof node === 'string') this.fetched.set(node, this.version);
    } catch {
      // not ours to judge: the answer goes out all the same
    }
  }

  /**
   * Tells the others we serve nothing any more (an empty catalog, announced at once), while
   * still serving what they send us. Returns the catalog version that says so.
   */
  withdrawCatalog(): number {
    this.withdrawn = true;
    this.seen = { registry: -1, endpoints: -1 };
    this.beat();
    return this.version;
  }

  /** Other servers alive that have not fetched our catalog `version` yet. */
  behind(version: number): string[] {
    return this.peers().filter((node) => (this.fetched.get(node) ?? -1) < version);
  }

  /** Calls of other servers this one is serving now. */
  get serving(): number {
    let count = 0;
    for (const member of this.members.values()) count += member.link.serving;
    return count;
  }

  /** Leaves: tells the others, drops every link, closes the NATS connection. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    clearInterval(this.timer);
    this.publish(SUBJECT.heartbeat, {
      node: this.node,
      incarnation: this.incarnation,
      version: this.version,
      leaving: true,
    } satisfies Heartbeat);
    for (const node of [...this.members.keys()]) this.drop(node, 'is gone (this server closes)');
    this.limits.stop();
    // What changed here last goes out first (what cannot is sent at the next start).
    await this.replica.stop(STATE_FLUSH_MS);
    const nc = this.nc;
    this.nc = undefined;
    if (nc !== undefined) await nc.drain().catch(() => nc.close());
  }
}

function lastToken(subject: string): string {
  return subject.slice(subject.lastIndexOf('.') + 1);
}
