/**
 * A bounded HTTP load for drain tests: `workers` loops, each on its own kept-alive connection
 * (fetch's pool), cycling through an endpoint answer, a streamed answer and an HTTP RPC call to
 * functions that answer with the serving uplink's name. Every answer is checked; failures are
 * collected, not thrown, so a test can assert there were none.
 */
export interface Load {
  /** Answers served by the uplink named `name` so far. */
  servedBy(name: string): number;
  /** Stops the loops and resolves once every one of them has finished its request. */
  stop(): Promise<LoadReport>;
}

export interface LoadReport {
  total: number;
  failures: string[];
  servedBy: Map<string, number>;
}

/** Stops by itself after this many requests per worker or this long, whichever comes first. */
const MAX_REQUESTS_PER_WORKER = 5_000;
const MAX_DURATION_MS = 60_000;

export function startLoad(baseUrl: string, workers = 8): Load {
  const servedBy = new Map<string, number>();
  const failures: string[] = [];
  let total = 0;
  let stopped = false;
  const startedAt = Date.now();

  async function one(kind: number): Promise<void> {
    let name: string;
    if (kind === 0) {
      const response = await fetch(`${baseUrl}/_/api/who`);
      const text = await response.text();
      if (response.status !== 200) throw new Error(`GET /who: ${response.status} ${text}`);
      name = text;
    } else if (kind === 1) {
      const response = await fetch(`${baseUrl}/_/api/lines`);
      const text = await response.text();
      if (response.status !== 200) throw new Error(`GET /lines: ${response.status} ${text}`);
      const lines = text.split('\n');
      name = lines[0]!.split(' ')[0]!;
      const expected = [0, 1, 2, 3, 4].map((i) => `${name} ${i}`).join('\n') + '\n';
      if (text !== expected) throw new Error(`GET /lines: incomplete body ${JSON.stringify(text)}`);
    } else {
      const response = await fetch(`${baseUrl}/_/call/who`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: '[]',
      });
      const text = await response.text();
      if (response.status !== 200) throw new Error(`POST /_/call/who: ${response.status} ${text}`);
      name = JSON.parse(text) as string;
    }
    servedBy.set(name, (servedBy.get(name) ?? 0) + 1);
  }

  async function worker(index: number): Promise<void> {
    for (let i = 0; i < MAX_REQUESTS_PER_WORKER; i++) {
      if (stopped || Date.now() - startedAt > MAX_DURATION_MS) return;
      total++;
      try {
        await one((index + i) % 3);
      } catch (error) {
        failures.push(error instanceof Error ? error.message : String(error));
      }
    }
  }

  const loops = Array.from({ length: workers }, (_, index) => worker(index));
  return {
    servedBy: (name) => servedBy.get(name) ?? 0,
    async stop() {
      stopped = true;
      await Promise.all(loops);
      return { total, failures, servedBy };
    },
  };
}
