import type { Server } from 'node:http';
import type { Socket } from 'node:net';
import type Database from 'better-sqlite3';
import { SwitchboardError } from '@switchboard/shared';
import type { FastifyInstance } from 'fastify';
import type { Cluster } from './cluster/cluster.ts';
import { drainForShutdown, type ShutdownOutcome, type ShutdownParts } from './shutdown.ts';
import type { InProcessProvider } from './hub/in-process-provider.ts';
import type { Schedules } from './schedules/schedules.ts';
import type { Tasks } from './tasks/tasks.ts';

/** After a graceful shutdown's wait, how long HTTP connections may take to close by themselves. */
const SHUTDOWN_LINGER_MS = 250;

/** What one Switchboard instance starts and stops with its Fastify app. */
export interface LifecycleParts extends Omit<ShutdownParts, 'app' | 'cluster'> {
  server: Server;
  app: InProcessProvider;
  cluster: Cluster | undefined;
  tasks: Pick<Tasks, 'close'>;
  schedules: Pick<Schedules, 'start' | 'close'>;
  db: Pick<Database.Database, 'close'>;
}

/**
 * Start, close and graceful shutdown of a Switchboard instance, on its Fastify app's hooks: the
 * cluster and the schedules start once the routes are ready; uplinks are closed in `preClose`
 * (Fastify waits for open connections before `onClose`, and upgraded sockets would hold it
 * forever), the store in `onClose`.
 */
export class Lifecycle {
  /** The Fastify instance the hooks are on. */
  private fastify: FastifyInstance | undefined;
  private closed = false;

  constructor(private readonly parts: LifecycleParts) {}

  attach(app: FastifyInstance): void {
    const { gate, schedules, tasks, hub, cluster, db } = this.parts;
    this.fastify = app;
    // Connections that never sent a byte (a client's spare connection) are not "idle" to Node,
    // so closing would wait for its headers timeout (about 70 s); they are dropped instead.
    const sockets = new Set<Socket>();
    app.server.on('connection', (socket: Socket) => {
      sockets.add(socket);
      socket.once('close', () => sockets.delete(socket));
    });
    // Joins once the routes are ready: a call may come from another server at once.
    app.addHook('onReady', (done) => {
      cluster?.start();
      schedules.start();
      done();
    });
    app.addHook('preClose', async () => {
      gate.close();
      schedules.close();
      tasks.close();
      hub.close();
      this.parts.app.close();
      for (const socket of sockets) if (socket.bytesRead === 0) socket.destroy();
      await cluster?.close();
    });
    app.addHook('onClose', (_instance, done) => {
      if (!this.closed) db.close();
      this.closed = true;
      done();
    });
  }

  /** See SwitchboardCore.shutdown. */
  async shutdown(graceMs: number): Promise<ShutdownOutcome> {
    if (!Number.isFinite(graceMs) || graceMs < 0)
      throw new SwitchboardError('SB_ERR_OPTIONS_INVALID', 'graceMs must be a non-negative number');
    const app = this.fastify;
    if (app === undefined) throw new SwitchboardError('SB_ERR_INTERNAL', 'lifecycle not attached');
    const { server, hub, schedules } = this.parts;
    schedules.close(); // no new runs while the others drain
    const outcome = await drainForShutdown(this.parts, graceMs);
    if (!outcome.clean) {
      hub.close(
        new SwitchboardError(
          'SB_ERR_DRAIN_TIMEOUT',
          `The server shut down before this call finished (shutdownGraceMs ${graceMs})`,
        ),
      );
    }
    // Answers just written to cut-off requests get a moment to leave; then whatever HTTP
    // connection is left (a request still arriving, a cut-off stream) is dropped.
    const linger = setTimeout(() => server.closeAllConnections(), SHUTDOWN_LINGER_MS);
    try {
      await app.close();
    } finally {
      clearTimeout(linger);
    }
    return outcome;
  }
}
