import type { KV, NatsConnection } from 'nats';
import type { FastifyBaseLogger } from 'fastify';
import type { ClaimResult, ScheduleClaims } from '../schedules/schedule-types.ts';
import { isWrongRevision } from './state-replica.ts';

/** The JetStream key-value bucket where servers claim scheduled runs. */
export const CLAIMS_BUCKET = 'switchboard_schedule_runs';
/**
 * How long a claim is kept: far longer than servers of a cluster can disagree about a run
 * (they share their schedules, and a starting server waits until its copy is in step).
 */
export const CLAIM_TTL_MS = 3_600_000;
/** How long a claim may wait for JetStream before the run is given up on this server. */
const CLAIM_TIMEOUT_MS = 2_000;

/** A claim as stored: who won it, and when that server planned the schedule's next run. */
interface Claim {
  node: string;
  nextRunAt: number | null;
}

/**
 * Once-per-cluster scheduled runs (docs/cluster.md, "Schedules"): before launching the run of
 * schedule `id` due at `fireAt`, a server creates the key `sched.<id>.<fireAt>` in the bucket.
 * JetStream lets exactly one create succeed; that server launches the run. The others adopt
 * its plan for the next run. A server that cannot reach JetStream launches nothing (a run is
 * skipped rather than run twice).
 */
export class ClusterScheduleClaims implements ScheduleClaims {
  private nc: NatsConnection | undefined;
  private kv: Promise<KV> | undefined;

  constructor(
    /** This server, and the JetStream replicas of the bucket if this server creates it. */
    private readonly self: { node: string; replicas: number },
    private readonly synced: Promise<void>,
    private readonly log: FastifyBaseLogger,
  ) {}

  /** NATS is connected: claims go through it from now on. */
  start(nc: NatsConnection): void {
    this.nc = nc;
  }

  /** The schedules are trusted once the cluster's shared state has been applied here. */
  ready(): Promise<void> {
    return this.synced;
  }

  async claim(id: string, fireAt: number, nextRunAt: number | null): Promise<ClaimResult> {
    const key = `sched.${id}.${fireAt}`;
    try {
      const kv = await this.bucket();
      try {
        await kv.create(key, JSON.stringify({ node: this.self.node, nextRunAt } satisfies Claim));
        return { won: true };
      } catch (error) {
        if (!isWrongRevision(error)) throw error;
      }
      const winner = (await kv.get(key))?.json<Partial<Claim>>();
      this.log.debug({ key, node: winner?.node }, 'schedule: run claimed by another server');
      const planned = winner?.nextRunAt;
      return { won: false, nextRunAt: typeof planned === 'number' ? planned : nextRunAt };
    } catch (error) {
      this.log.warn({ err: error, key }, 'schedule: cannot claim the run (NATS); skipped here');
      return { won: false, nextRunAt };
    }
  }

  private bucket(): Promise<KV> {
    const nc = this.nc;
    if (nc === undefined) return Promise.reject(new Error('not connected to NATS yet'));
    if (this.kv === undefined) {
      const opening = nc
        .jetstream({ timeout: CLAIM_TIMEOUT_MS })
        .views.kv(CLAIMS_BUCKET, { history: 1, ttl: CLAIM_TTL_MS, replicas: this.self.replicas });
      // A failed open is tried again at the next claim.
      opening.catch(() => {
        if (this.kv === opening) this.kv = undefined;
      });
      this.kv = opening;
    }
    return this.kv;
  }
}
