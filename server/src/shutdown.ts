import type { Server } from 'node:http';
import { Server as NetServer } from 'node:net';
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import type { FastifyBaseLogger } from 'fastify';
import type { RequestGate } from './http/request-gate.ts';
import type { UplinkHub } from './hub/uplink-hub.ts';
import type { Provider } from './hub/provider.ts';
import { MOVE_WINDOW_MS, leaveCluster, type Departing } from './cluster/departure.ts';

/** What was still running when a graceful shutdown ended; all zero (and `clean`) if nothing. */
export interface ShutdownOutcome {
  /** Every call and request in flight finished before the deadline. */
  clean: boolean;
  /** HTTP requests not yet answered in full at the deadline (they were cut off). */
  httpRequests: number;
  /** Uplinks still busy (calls to or from them, streams) at the deadline. */
  busyUplinks: number;
  /** Calls to functions of the server process itself still running at the deadline. */
  appCalls: number;
}

/** What a graceful shutdown works on. */
export interface ShutdownParts {
  server: Server;
  gate: RequestGate;
  hub: UplinkHub;
  app: Provider;
  log: FastifyBaseLogger;
  /** This server's part in a cluster, if clustered: its uplinks move, then it leaves. */
  cluster?: Departing | undefined;
}

/**
 * How often the wait looks whether everything has finished: in-flight work ends in many places
 * (HTTP responses, uplink answers, streams in both directions), and this runs once per process.
 */
const IDLE_CHECK_INTERVAL_MS = 20;

/**
 * The draining half of a graceful shutdown: refuse new work, let what is in flight finish for
 * up to `graceMs`, and report what was left. Closing the sockets and the store is the caller's
 * next step.
 *
 * From the first moment: `/readyz` answers 503, the listening socket is closed (no new TCP
 * connections; kept-alive ones stay so their next request can be answered 503
 * SB_ERR_SERVER_CLOSING with `Connection: close`), new uplinks are refused, every uplink gets
 * `goaway` and keeps serving. Uplinks stay in rotation, since the work in flight may call them.
 *
 * In a cluster with other servers alive, an uplink told `goaway` moves (docs/cluster.md):
 * registers on another server, drains itself here. Each idle uplink still gets MOVE_WINDOW_MS to
 * do so before it counts as done; then this server withdraws its catalog and waits for the
 * others to stop sending calls (leaveCluster) before the caller closes everything.
 */
export async function drainForShutdown(
  parts: ShutdownParts,
  graceMs: number,
): Promise<ShutdownOutcome> {
  const { server, gate, hub, app, log, cluster } = parts;
  gate.close();
  if (server.listening) {
    // net.Server's own close: stops listening without http's closeIdleConnections(), so a
    // client on a kept-alive connection gets a 503 instead of a reset.
    NetServer.prototype.close.call(server);
  }
  hub.goAway(graceMs);
  log.info({ graceMs }, 'shutting down: waiting for calls in flight');
  const deadline = performance.now() + graceMs;
  const clustered = cluster !== undefined && cluster.peers().length > 0;
  const moveUntil = clustered ? Math.min(deadline, performance.now() + MOVE_WINDOW_MS) : 0;
  const outcome = (): ShutdownOutcome => {
    const moving = performance.now() < moveUntil;
    const busyUplinks = hub.uplinks().filter((uplink) => moving || !uplink.isIdle).length;
    const httpRequests = gate.inFlight;
    const appCalls = app.inFlight;
    const clean = httpRequests === 0 && busyUplinks === 0 && appCalls === 0;
    return { clean, httpRequests, busyUplinks, appCalls };
  };
  let state = outcome();
  while (!state.clean && performance.now() < deadline) {
    await sleep(Math.min(IDLE_CHECK_INTERVAL_MS, Math.max(1, deadline - performance.now())));
    state = outcome();
  }
  if (state.clean) log.info('shutdown: every call in flight finished');
  else log.warn(state, 'shutdown deadline passed; cutting off what is still running');
  if (cluster !== undefined) {
    await leaveCluster(cluster, graceMs);
    log.info('shutdown: the other servers stopped sending calls here; leaving the cluster');
  }
  return state;
}
