import { Events, type KV, type KvEntry, type NatsConnection } from 'nats';
import { SwitchboardError } from '@switchboard/shared';
import type { FastifyBaseLogger } from 'fastify';
import {
  isSharedTable,
  type OutboxItem,
  type ReplicaTables,
  type SharedTable,
  type WireRow,
} from '../store/replica-tables.ts';

/** The JetStream key-value bucket holding the cluster's shared state. */
export const STATE_BUCKET = 'switchboard_state';
/** The cluster's master secret (cookies, session signatures): the first server's, adopted. */
const SECRET_KEY = 'secret.master';
/** The highest user id handed out in the cluster. */
const USER_ID_KEY = 'counter.users';
/** Records sent per round; rounds repeat until the outbox is empty. */
const PUMP_BATCH = 256;
/** How often the outbox is looked at anyway (changes made by the CLI on this data folder). */
const PUMP_POLL_MS = 1_000;
/** After a failure (NATS away), the wait before trying again. */
const RETRY_MS = 500;
/**
 * How long a store operation may wait for JetStream: a write sent while NATS was away is
 * given up (and sent again) this soon after NATS is back.
 */
const JETSTREAM_TIMEOUT_MS = 2_000;
/**
 * Largest record sent: NATS refuses messages above its `max_payload` (1 MiB by default), and a
 * record that cannot be sent must not hold up the ones after it. Larger ones stay here (logged).
 */
const MAX_RECORD_BYTES = 960 * 1024;
/** KV keys are subject tokens: record keys outside this stay on this server (logged). */
const SAFE_PK = /^[A-Za-z0-9_-]{1,200}$/;

/** What the replica tells the server. */
export interface ReplicaHooks {
  /** A key was revoked on another server: its uplinks here close. */
  keyRevoked(id: string): void;
  /** The master secret this server uses now. */
  currentSecret(): Buffer;
  /** The cluster's master secret differs from this server's: adopt it. */
  adoptSecret(secret: Buffer): void;
  /**
   * Another server asked to kill an unfinished task (its row arrived with `kill_requested_at`):
   * the server that runs it kills it.
   */
  taskKillRequested?(id: string): void;
}

/** A record as stored in the bucket: who wrote it, and its row. */
interface StoredRecord {
  origin: string;
  row: WireRow;
}

/**
 * Keys, users, sessions and admin tokens shared through JetStream KV (docs/cluster.md,
 * "Shared state"). Each server keeps its SQLite file as a full local replica, so every read
 * stays local and synchronous: local writes are listed by triggers and sent to the bucket
 * (`<table>.<id>` → the row), and the bucket's changes, watched in the cluster's order, are
 * applied here. A record with a local change still on its way out keeps the local change
 * (it is later in that order, and wins everywhere) — unless ours had already landed and only
 * its acknowledgement was still on its way: the bucket's latest is read again once ours is
 * acknowledged, for every record whose change from elsewhere was held back meanwhile.
 */
export class StateReplica {
  private kv: KV | undefined;
  private stopped = false;
  private pumping = false;
  private pumpAgain = false;
  /**
   * Keys (`<table>.<id>`) whose change from the bucket was held back by a pending one of ours,
   * each with the highest revision of it applied since (0: none).
   */
  private readonly heldBack = new Map<string, number>();
  private readonly poll: NodeJS.Timeout;
  private generation = 0;
  /** The initial state of the bucket has been applied (and ours added to it). */
  synced = false;
  private markSynced!: () => void;
  /** Resolves when `synced` first turns true. */
  readonly whenSynced = new Promise<void>((resolve) => (this.markSynced = resolve));

  constructor(
    private readonly tables: ReplicaTables,
    /** This server, and the JetStream replicas of the bucket if this server creates it. */
    private readonly self: { node: string; replicas: number },
    private readonly log: FastifyBaseLogger,
    private readonly hooks: ReplicaHooks,
  ) {
    this.poll = setInterval(() => this.schedule(), PUMP_POLL_MS);
    this.poll.unref();
  }

  /** Opens the bucket and keeps the replica in step, again after every NATS reconnect. */
  start(nc: NatsConnection): void {
    void this.run(nc);
    void (async () => {
      for await (const status of nc.status()) {
        if (status.type === Events.Reconnect && !this.stopped) void this.run(nc);
      }
    })();
  }

  /** A local change was made: send it soon. */
  schedule(): void {
    if (this.pumping) {
      this.pumpAgain = true;
      return;
    }
    if (this.kv !== undefined && !this.stopped) void this.pump();
  }

  /**
   * The next user id, unique in the cluster (a compare-and-set counter in the bucket, never
   * below the highest id held here). SB_ERR_CLUSTER_UNAVAILABLE without NATS.
   */
  async nextUserId(localMax: number): Promise<number> {
    for (let attempt = 0; attempt < 50; attempt++) {
      const kv = this.kv;
      if (kv === undefined) break;
      try {
        const entry = await kv.get(USER_ID_KEY);
        const current = entry?.operation === 'PUT' ? Number(entry.string()) || 0 : 0;
        const next = Math.max(current, localMax) + 1;
        if (entry === null) await kv.create(USER_ID_KEY, String(next));
        else await kv.update(USER_ID_KEY, String(next), entry.revision);
        return next;
      } catch (error) {
        if (!isWrongRevision(error)) break;
      }
    }
    throw new SwitchboardError(
      'SB_ERR_CLUSTER_UNAVAILABLE',
      'Cannot reach the cluster store (NATS) to number a new user; try again',
    );
  }

  /** Sends what is left in the outbox (bounded by `timeoutMs`) and stops. */
  async stop(timeoutMs: number): Promise<void> {
    clearInterval(this.poll);
    if (this.kv !== undefined && !this.pumping) {
      await Promise.race([this.pump(), new Promise((resolve) => setTimeout(resolve, timeoutMs))]);
    }
    this.stopped = true;
    this.generation++;
  }

  private async run(nc: NatsConnection): Promise<void> {
    const generation = ++this.generation;
    try {
      const kv = await nc
        .jetstream({ timeout: JETSTREAM_TIMEOUT_MS })
        .views.kv(STATE_BUCKET, { history: 1, replicas: this.self.replicas });
      if (generation !== this.generation) return;
      this.kv = kv;
      await this.offerSecret(kv);
      await this.watch(kv, generation);
    } catch (error) {
      if (this.stopped || generation !== this.generation) return;
      this.log.warn({ err: error }, 'cluster state: watch failed; starting over');
      setTimeout(() => {
        if (generation === this.generation && !nc.isClosed()) void this.run(nc);
      }, RETRY_MS).unref();
    }
  }

  /** The first server's secret becomes the cluster's; the others adopt it from the watch. */
  private async offerSecret(kv: KV): Promise<void> {
    try {
      await kv.create(SECRET_KEY, this.hooks.currentSecret());
    } catch (error) {
      if (!isWrongRevision(error)) throw error;
    }
  }

  /**
   * Applies the bucket as it is (one transaction), adds what only this server has, then
   * follows the bucket's changes until the watch ends.
   */
  private async watch(kv: KV, generation: number): Promise<void> {
    const status = await kv.status();
    const lastSeq = status.streamInfo.state.last_seq;
    const initial: KvEntry[] = [];
    let initialized = status.streamInfo.state.messages === 0;
    if (initialized) this.initialized(initial);
    const entries = await kv.watch({ key: '>' });
    for await (const entry of entries) {
      if (generation !== this.generation) {
        entries.stop();
        return;
      }
      if (!initialized) {
        initial.push(entry);
        if (entry.revision < lastSeq) continue;
        initialized = true;
        this.initialized(initial);
        continue;
      }
      this.log.debug({ key: entry.key, revision: entry.revision }, 'cluster state: change');
      this.applyEntries([entry]);
    }
    throw new Error('the watch ended');
  }

  private initialized(entries: KvEntry[]): void {
    this.applyEntries(entries);
    const seen = new Set(entries.map((entry) => entry.key));
    const ours = this.tables
      .keys()
      .filter(({ table, pk }) => !seen.has(`${table}.${pk}`) && !this.tables.pending(table, pk));
    this.tables.enqueue(ours);
    if (ours.length > 0) this.log.info({ records: ours.length }, 'cluster state: adding ours');
    this.synced = true;
    this.markSynced();
    this.log.debug({ records: entries.length }, 'cluster state: in step with the cluster');
    this.schedule();
  }

  private applyEntries(entries: readonly KvEntry[]): void {
    const changes: Array<{ table: SharedTable; pk: string; row: WireRow | undefined }> = [];
    const revoked: string[] = [];
    const kills: string[] = [];
    for (const entry of entries) {
      const dot = entry.key.indexOf('.');
      const table = entry.key.slice(0, dot);
      const pk = entry.key.slice(dot + 1);
      const deleted = entry.operation !== 'PUT';
      if (entry.key === SECRET_KEY) {
        if (!deleted) this.secret(Buffer.from(entry.value));
        continue;
      }
      if (!isSharedTable(table)) continue;
      // A kill request is acted on even if our own change to the task is still on its way out.
      const pending = this.tables.pending(table, pk);
      const applied = this.heldBack.get(entry.key);
      if (pending) this.heldBack.set(entry.key, applied ?? 0);
      else if (applied !== undefined)
        this.heldBack.set(entry.key, Math.max(applied, entry.revision));
      if (pending && table !== 'tasks') continue;
      let row: WireRow | undefined;
      if (!deleted) {
        try {
          row = entry.json<StoredRecord>().row;
        } catch {
          this.log.warn({ key: entry.key }, 'cluster state: unreadable record skipped');
          continue;
        }
      }
      if (table === 'tasks' && isKillRequest(row)) kills.push(pk);
      if (pending) continue;
      if (table === 'keys' && row?.revoked_at != null) {
        if (this.tables.read('keys', pk)?.revoked_at == null) revoked.push(pk);
      }
      changes.push({ table, pk, row });
    }
    if (changes.length > 0) this.applyChanges(changes);
    for (const id of revoked) this.hooks.keyRevoked(id);
    for (const id of kills) this.hooks.taskKillRequested?.(id);
  }

  private applyChanges(
    changes: Array<{ table: SharedTable; pk: string; row: WireRow | undefined }>,
  ): void {
    try {
      this.tables.apply(changes);
    } catch (error) {
      // One bad record must not stop the others: apply them one by one.
      if (changes.length > 1) {
        for (const change of changes) this.applyLogged(change);
      } else {
        this.log.warn({ err: error, key: keyOf(changes[0]!) }, 'cluster state: not applied');
      }
    }
  }

  private applyLogged(change: { table: SharedTable; pk: string; row: WireRow | undefined }): void {
    try {
      this.tables.apply([change]);
    } catch (error) {
      this.log.warn({ err: error, key: keyOf(change) }, 'cluster state: not applied');
    }
  }

  private secret(secret: Buffer): void {
    if (secret.byteLength < 32 || secret.equals(this.hooks.currentSecret())) return;
    this.log.info('cluster state: adopting the cluster secret');
    this.hooks.adoptSecret(secret);
  }

  private async pump(): Promise<void> {
    const kv = this.kv;
    if (kv === undefined || this.pumping) return;
    this.pumping = true;
    try {
      for (;;) {
        this.pumpAgain = false;
        const items = this.tables.outbox(PUMP_BATCH);
        if (items.length === 0) break;
        await Promise.all(items.map((item) => this.send(kv, item)));
        for (const item of items) this.tables.sent(item);
        this.log.debug({ records: items.length }, 'cluster state: sent');
      }
      await this.rereadHeldBack(kv);
    } catch (error) {
      this.log.debug({ err: error }, 'cluster state: sending failed; retrying');
      setTimeout(() => this.schedule(), RETRY_MS).unref();
    } finally {
      this.pumping = false;
    }
    if (this.pumpAgain) this.schedule();
  }

  /**
   * Our changes are in the bucket now: where a change from elsewhere arrived while one of ours
   * was on its way, the bucket's latest is applied (ours again, or one after it) — unless the
   * watch has meanwhile applied that revision or a later one.
   */
  private async rereadHeldBack(kv: KV): Promise<void> {
    for (const key of [...this.heldBack.keys()]) {
      const dot = key.indexOf('.');
      // Another change of ours is still on its way: a later pass rereads it.
      if (this.tables.pending(key.slice(0, dot) as SharedTable, key.slice(dot + 1))) continue;
      const entry = await kv.get(key); // on failure the pump retries, the key still held back
      const applied = this.heldBack.get(key) ?? 0; // after the wait: the watch may have moved on
      this.heldBack.delete(key);
      if (entry !== null && entry.revision > applied) this.applyEntries([entry]);
    }
  }

  private async send(kv: KV, item: OutboxItem): Promise<void> {
    if (!SAFE_PK.test(item.pk)) {
      this.log.warn({ key: keyOf(item) }, 'cluster state: record key not shareable; kept local');
      return;
    }
    const row = this.tables.read(item.table, item.pk);
    const key = keyOf(item);
    if (row === undefined) {
      await kv.delete(key);
      return;
    }
    const text = JSON.stringify({ origin: this.self.node, row } satisfies StoredRecord);
    if (Buffer.byteLength(text) > MAX_RECORD_BYTES) {
      this.log.warn(
        { key, bytes: Buffer.byteLength(text) },
        'cluster state: record too large; kept local',
      );
      return;
    }
    await kv.put(key, text);
  }
}

/** A task row asking to kill a task that has not ended. */
function isKillRequest(row: WireRow | undefined): boolean {
  return (
    row !== undefined &&
    row.kill_requested_at != null &&
    (row.status === 'queued' || row.status === 'running')
  );
}

function keyOf(record: { table: string; pk: string }): string {
  return `${record.table}.${record.pk}`;
}

/** KV create/update refused because the key exists or changed meanwhile. */
export function isWrongRevision(error: unknown): boolean {
  const text = String((error as { message?: unknown })?.message ?? error);
  return /wrong last sequence|key exists/i.test(text);
}
