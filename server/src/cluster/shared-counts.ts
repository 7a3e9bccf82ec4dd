import { decodeValue, encodeValue } from '@switchboard/shared';
import type { NatsConnection, Subscription } from 'nats';
import { MAX_LIMIT_KEYS } from '../limits/rate-limits.ts';
import { WindowCounts } from '../limits/window-counts.ts';

/** Every server's rate-limit hits, summed per key and window. */
const SUBJECT = 'sb.limits';
/** How often the hits counted here go out: the most a cluster-wide limit can be overrun by. */
export const SHARE_EVERY_MS = 100;
/** Hits per message (well under NATS's default 1 MiB payload for any key). */
const HITS_PER_MESSAGE = 500;

/** [window length, window start, key, hits] */
type Hits = [number, number, string, number];

interface HitsMessage {
  node: string;
  hits: Hits[];
}

/**
 * Rate limits that hold per cluster (docs/cluster.md): every server counts its hits in clock-
 * aligned windows (`counts`, the store of the door's limits), publishes what it counted every
 * SHARE_EVERY_MS and adds what the others publish. Without NATS each server limits alone.
 */
export class SharedCounts {
  readonly counts = new WindowCounts(MAX_LIMIT_KEYS);
  /** Hits counted here since the last message, by window and key. */
  private pending = new Map<string, Hits>();
  private timer: NodeJS.Timeout | undefined;
  private subscription: Subscription | undefined;
  private nc: NatsConnection | undefined;

  constructor(private readonly node: string) {
    this.counts.onHit((windowMs, start, key) => {
      if (this.nc === undefined) return;
      const id = `${windowMs} ${start} ${key}`;
      const hits = this.pending.get(id);
      if (hits !== undefined) hits[3]++;
      else if (this.pending.size < MAX_LIMIT_KEYS) this.pending.set(id, [windowMs, start, key, 1]);
    });
  }

  start(nc: NatsConnection): void {
    this.nc = nc;
    this.subscription = nc.subscribe(SUBJECT, { callback: (_e, msg) => this.received(msg.data) });
    this.timer = setInterval(() => this.flush(), SHARE_EVERY_MS);
    this.timer.unref();
  }

  stop(): void {
    clearInterval(this.timer);
    this.flush();
    this.subscription?.unsubscribe();
    this.nc = undefined;
  }

  private flush(): void {
    const nc = this.nc;
    if (this.pending.size === 0 || nc === undefined) return;
    const hits = [...this.pending.values()];
    this.pending = new Map();
    // Disconnected, nats.js buffers what is published and sends it on reconnecting; windows
    // over by then are dropped by the receivers.
    if (nc.isClosed()) return;
    for (let i = 0; i < hits.length; i += HITS_PER_MESSAGE) {
      const message: HitsMessage = { node: this.node, hits: hits.slice(i, i + HITS_PER_MESSAGE) };
      nc.publish(SUBJECT, encodeValue(message));
    }
  }

  private received(data: Uint8Array): void {
    let message: HitsMessage;
    try {
      message = decodeValue(data) as HitsMessage;
    } catch {
      return;
    }
    if (message?.node === this.node || !Array.isArray(message?.hits)) return;
    for (const hits of message.hits) {
      if (!isHits(hits)) continue;
      const [windowMs, start, key, count] = hits;
      this.counts.addRemote(windowMs, start, key, count);
    }
  }
}

function isHits(value: unknown): value is Hits {
  return (
    Array.isArray(value) &&
    value.length === 4 &&
    Number.isSafeInteger(value[0]) &&
    (value[0] as number) > 0 &&
    Number.isSafeInteger(value[1]) &&
    typeof value[2] === 'string' &&
    Number.isSafeInteger(value[3]) &&
    (value[3] as number) > 0
  );
}
