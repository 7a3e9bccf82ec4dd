import rateLimit from '@fastify/rate-limit';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { windowCountsStore, type WindowCounts } from './window-counts.ts';

/** A limit: at most `max` hits per `windowMs` for one key. */
export interface Limit {
  max: number;
  windowMs: number;
}

type Limiter = ReturnType<FastifyInstance['createRateLimit']>;

/**
 * Who a hit is counted for: an HTTP request, or a client known only by its address (a sign-in
 * made over an uplink dialect on behalf of an HTTP request, see docs/anvil.md).
 */
export type LimitSubject = FastifyRequest | { readonly ip: string };

/** Most keys (endpoint × address, sign-in names) the in-memory store remembers. */
export const MAX_LIMIT_KEYS = 20_000;

/**
 * Rate limits on top of `@fastify/rate-limit` (its fixed-window LRU store): endpoints are
 * registered at run time, so instead of per-route configuration the door asks for a hit on a
 * key of its choosing (endpoint pattern and client address, or a sign-in name) with that
 * endpoint's limit.
 */
export class RateLimits {
  private readonly limiters = new Map<string, Limiter>();
  private readonly keys = new WeakMap<FastifyRequest, string>();

  private constructor(private readonly app: FastifyInstance) {}

  /**
   * Registers the plugin (routes are not limited by it on their own) in `app`: with its own
   * store on one server, on `shared` counts (clock-aligned windows the servers of a cluster add
   * up, docs/cluster.md) in a cluster.
   */
  static async register(app: FastifyInstance, shared?: WindowCounts): Promise<RateLimits> {
    await app.register(
      rateLimit,
      shared === undefined
        ? { global: false, cache: MAX_LIMIT_KEYS }
        : { global: false, store: windowCountsStore(shared) },
    );
    return new RateLimits(app);
  }

  /** Counts a hit; returns the seconds until the window resets when over the limit. */
  async hit(request: LimitSubject, key: string, limit: Limit): Promise<number | undefined> {
    const outcome = await this.run(request, key, limit, true);
    if (outcome.isAllowed || !outcome.isExceeded) return undefined;
    return Math.max(1, outcome.ttlInSeconds);
  }

  /**
   * How many hits `key` has in its current window and the seconds until that window resets,
   * without counting one.
   */
  async peek(
    request: LimitSubject,
    key: string,
    limit: Limit,
  ): Promise<{ used: number; retryAfterSeconds: number }> {
    const outcome = await this.run(request, key, limit, false);
    if (outcome.isAllowed) return { used: 0, retryAfterSeconds: 1 };
    return {
      used: limit.max - outcome.remaining,
      retryAfterSeconds: Math.max(1, outcome.ttlInSeconds),
    };
  }

  private run(subject: LimitSubject, key: string, limit: Limit, increment: boolean) {
    // The plugin reads a request's route options; an address alone gets empty ones.
    const request =
      'routeOptions' in subject
        ? subject
        : ({ ip: subject.ip, routeOptions: { config: {} } } as unknown as FastifyRequest);
    this.keys.set(request, key); // read synchronously by the key generator below
    return this.limiter(limit)(request, { increment });
  }

  private limiter(limit: Limit): Limiter {
    const id = `${limit.max}/${limit.windowMs}`;
    let limiter = this.limiters.get(id);
    if (limiter === undefined) {
      limiter = this.app.createRateLimit({
        max: limit.max,
        timeWindow: limit.windowMs,
        keyGenerator: (request) => this.keys.get(request) ?? request.ip,
      });
      this.limiters.set(id, limiter);
    }
    return limiter;
  }
}
