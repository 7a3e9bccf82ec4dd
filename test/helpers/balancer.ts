/**
 * HTTP load through a model load balancer in front of a cluster, for the rolling-restart tests.
 * The balancer does what docs/cluster.md asks of one: a server is in rotation only while its
 * /readyz answers 200 (polled every 100 ms) and the orchestrator has not taken it out (`hold`,
 * before it signals the server); a request refused before anything ran (connection refused, 503
 * SB_ERR_SERVER_CLOSING) goes to another server, as balancers retry such requests. Everything is
 * counted: every answer is checked, and a request without an answer within HUNG_MS is hung.
 */

/** An answer later than this counts as hung (the calls' deadline is 30 s). */
const HUNG_MS = 15_000;
const HEALTH_EVERY_MS = 100;
/** Hard bounds, whatever the test does. */
const MAX_REQUESTS = 40_000;
const MAX_DURATION_MS = 120_000;

export interface LoadCounts {
  total: number;
  ok: number;
  /** Non-2xx answers (after the balancer's retries), as `status code` → count. */
  failed: Map<string, number>;
  hung: number;
  /** Requests the balancer sent again to another server (nothing had run). */
  retried: number;
  /** The slowest answer, ms. */
  slowestMs: number;
}

export interface Balancer {
  /** Takes a server out of rotation (before it is signalled) or lets health checks decide again. */
  hold(url: string, held: boolean): void;
  /** Servers in rotation now. */
  rotation(): string[];
  /** Counts so far (a copy). */
  counts(): LoadCounts;
  /** Stops the load and the health checks; resolves once every request has ended. */
  stop(): Promise<LoadCounts>;
}

/**
 * `workers` loops sending `POST /_/call/roll.echo` (with `key`) and `GET /_/api/roll/:n`
 * alternately through the balancer to `urls`.
 */
export function startBalancedLoad(urls: string[], key: string, workers = 8): Balancer {
  const ready = new Set<string>();
  const held = new Set<string>();
  const counts: LoadCounts = {
    total: 0,
    ok: 0,
    failed: new Map(),
    hung: 0,
    retried: 0,
    slowestMs: 0,
  };
  const startedAt = Date.now();
  let stopped = false;
  let turn = 0;

  const health = setInterval(() => {
    for (const url of urls) {
      fetch(`${url}/readyz`, { signal: AbortSignal.timeout(1_000) }).then(
        (response) => {
          void response.body?.cancel();
          if (response.status === 200) ready.add(url);
          else ready.delete(url);
        },
        () => ready.delete(url),
      );
    }
  }, HEALTH_EVERY_MS);

  const rotation = () => urls.filter((url) => ready.has(url) && !held.has(url));

  /** One request, to servers in rotation until one takes it; its final status and body. */
  async function send(n: number): Promise<{ status: number; body: string }> {
    for (let attempt = 0; ; attempt++) {
      const candidates = rotation();
      if (candidates.length === 0) {
        if (stopped || Date.now() - startedAt > MAX_DURATION_MS) throw new Error('no server');
        await new Promise((resolve) => setTimeout(resolve, 20));
        continue;
      }
      const url = candidates[turn++ % candidates.length]!;
      let response: Response;
      try {
        response =
          n % 2 === 0
            ? await fetch(`${url}/_/call/roll.echo`, {
                method: 'POST',
                headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
                body: JSON.stringify([n]),
                signal: AbortSignal.timeout(HUNG_MS),
              })
            : await fetch(`${url}/_/api/roll/${n}`, { signal: AbortSignal.timeout(HUNG_MS) });
      } catch (error) {
        const cause = (error as { cause?: { code?: string } }).cause;
        if (cause?.code === 'ECONNREFUSED' && attempt < 5) {
          counts.retried++;
          ready.delete(url);
          continue;
        }
        throw error;
      }
      const body = await response.text();
      if (response.status === 503 && body.includes('SB_ERR_SERVER_CLOSING') && attempt < 5) {
        counts.retried++;
        ready.delete(url);
        continue;
      }
      return { status: response.status, body };
    }
  }

  async function worker(id: number): Promise<void> {
    for (let i = 0; !stopped; i++) {
      if (counts.total >= MAX_REQUESTS || Date.now() - startedAt > MAX_DURATION_MS) return;
      const n = id * 1_000_000 + i;
      counts.total++;
      const began = Date.now();
      try {
        const { status, body } = await send(n);
        const expected = n % 2 === 0 ? String(n) : JSON.stringify({ n: String(n) });
        if (status === 200 && body === expected) counts.ok++;
        else {
          const key = `${status} ${(/"code":"(\w+)"/.exec(body) ?? [])[1] ?? body.slice(0, 60)}`;
          counts.failed.set(key, (counts.failed.get(key) ?? 0) + 1);
        }
      } catch (error) {
        const name = (error as Error).name;
        if (name === 'TimeoutError') counts.hung++;
        else {
          const key = `error ${String((error as { cause?: unknown }).cause ?? error)}`;
          counts.failed.set(key, (counts.failed.get(key) ?? 0) + 1);
        }
      }
      counts.slowestMs = Math.max(counts.slowestMs, Date.now() - began);
    }
  }

  const loops = Array.from({ length: workers }, (_, id) => worker(id));
  const copy = (): LoadCounts => ({ ...counts, failed: new Map(counts.failed) });
  return {
    hold(url, value) {
      if (value) held.add(url);
      else held.delete(url);
    },
    rotation,
    counts: copy,
    async stop() {
      stopped = true;
      await Promise.all(loops);
      clearInterval(health);
      return copy();
    },
  };
}
