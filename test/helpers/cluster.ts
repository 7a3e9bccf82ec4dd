// Servers of a test cluster, each in its own process (test/fixtures/cluster-node.ts).
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { TestContext } from 'node:test';
import { spawnScript, type Child } from './child.ts';
import { SERVER_KEY } from './server.ts';

export interface Node {
  name: string;
  url: string;
  /** An admin token of its data folder. */
  token: string;
  child: Child;
  dataDir: string;
}

export async function startNode(
  t: TestContext,
  natsUrl: string,
  name: string,
  serve: boolean | { serve: boolean; /** A restart passes the old one. */ dataDir: string },
): Promise<Node> {
  const { dataDir } = typeof serve === 'boolean' ? { dataDir: undefined } : serve;
  if (typeof serve !== 'boolean') serve = serve.serve;
  const folder = dataDir ?? (await mkdtemp(path.join(tmpdir(), `sb-cluster-${name}-`)));
  const child = spawnScript(t, 'test/fixtures/cluster-node.ts', {
    NATS_URL: natsUrl,
    NODE_NAME: name,
    SERVE: serve ? '1' : '0',
    DATA_DIR: folder,
  });
  // Registered after the child's own clean-up (hooks run in order): removed once it is gone. A
  // restart (given the folder) leaves it to the first start's hook.
  if (dataDir === undefined) t.after(() => rm(folder, { recursive: true, force: true }));
  const line = await child.waitFor(/^READY /, 20_000);
  const token = (await child.waitFor(/^TOKEN /)).slice('TOKEN '.length);
  return { name, url: line.slice('READY '.length), token, child, dataDir: folder };
}

/** POST /_/call/<name> with the server key; the status and the JSON answer. */
export async function call(
  node: Node,
  name: string,
  args: unknown[],
): Promise<{ status: number; body: unknown }> {
  const response = await fetch(`${node.url}/_/call/${name}`, {
    method: 'POST',
    headers: { authorization: `Bearer ${SERVER_KEY}`, 'content-type': 'application/json' },
    body: JSON.stringify(args),
  });
  return { status: response.status, body: await response.json() };
}

/** Waits until `node` can reach function `name` (the catalog travels with the heartbeats). */
export async function untilServed(node: Node, name: string, timeoutMs = 10_000): Promise<void> {
  const start = Date.now();
  for (;;) {
    const { status } = await call(node, name, [0]);
    if (status === 200) return;
    if (Date.now() - start > timeoutMs) throw new Error(`${name} never reached ${node.name}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

/** An admin API request to `node` with its token; the status and the JSON answer. */
export async function admin(
  node: Node,
  method: string,
  path: string,
  body?: unknown,
): Promise<{ status: number; body: Record<string, unknown> }> {
  const response = await fetch(`${node.url}/_/admin/api/v1/${path}`, {
    method,
    headers: {
      authorization: `Token ${node.token}`,
      ...(body === undefined ? {} : { 'content-type': 'application/json' }),
    },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await response.text();
  return {
    status: response.status,
    body: text === '' ? {} : (JSON.parse(text) as Record<string, unknown>),
  };
}

/** Retries `check` every 50 ms until it returns true; fails after `timeoutMs`. */
export async function eventually(
  what: string,
  check: () => Promise<boolean>,
  timeoutMs = 10_000,
): Promise<void> {
  const start = Date.now();
  while (!(await check())) {
    if (Date.now() - start > timeoutMs) throw new Error(`${what}: not within ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}
