import { STATUS_CODES, type IncomingMessage, type Server } from 'node:http';
import type { Duplex } from 'node:stream';
import { performance } from 'node:perf_hooks';
import { WebSocketServer } from 'ws';
import {
  CLOSE_CODES,
  SwitchboardError,
  UPLINK_PATH,
  closeReason,
  type ErrorCode,
} from '@switchboard/shared';
import type { KeyRecord } from '../store/key-store.ts';
import { parseBearer } from '../auth/bearer.ts';
import { UplinkConnection, type ConnectionDeps } from './uplink-connection.ts';

/** Keys revoked up to this long before the previous check are looked at again. */
const REVOKE_CHECK_MARGIN_MS = 5_000;

/**
 * Accepts uplink WebSockets on `/_/uplink` (ws in noServer mode on Fastify's HTTP server),
 * authenticates the upgrade when it carries a key, and keeps every connection alive or drops it
 * with one heartbeat timer for all of them.
 */
export class UplinkHub {
  private readonly wss: WebSocketServer;
  private readonly connections = new Map<string, UplinkConnection>();
  private readonly heartbeat: NodeJS.Timeout;
  private closing = false;
  /** Wall-clock time of the last look for keys revoked elsewhere. */
  private revokesCheckedAt = Date.now();
  private readonly onUpgrade = (req: IncomingMessage, socket: Duplex, head: Buffer): void =>
    this.upgrade(req, socket, head);

  constructor(
    private readonly server: Server,
    private readonly deps: Omit<ConnectionDeps, 'onOpen' | 'onClose'>,
  ) {
    this.wss = new WebSocketServer({
      noServer: true,
      // Messages up to twice the limit are read and answered with a coded error frame; beyond
      // that ws itself closes with 1009 before buffering more.
      maxPayload: deps.options.maxFrameBytes * 2,
      perMessageDeflate: false,
    });
    server.on('upgrade', this.onUpgrade);
    this.heartbeat = setInterval(() => this.beat(), deps.options.pingIntervalMs);
    this.heartbeat.unref();
  }

  /** Live, authenticated connections (draining ones included). */
  uplinks(): UplinkConnection[] {
    return [...this.connections.values()].filter((c) => c.isOpen);
  }

  /** The live, authenticated connection with this id. */
  find(providerId: string): UplinkConnection | undefined {
    const connection = this.connections.get(providerId);
    return connection?.isOpen === true ? connection : undefined;
  }

  /**
   * Takes the uplink out of rotation: no new call or request goes to it, those in flight
   * finish, then it disconnects and does not reconnect (see UplinkConnection.drain). False if
   * there is no such live uplink; true if it is draining (also when it already was).
   */
  drain(providerId: string, options: { timeoutMs?: number } = {}): boolean {
    const { timeoutMs } = options;
    if (timeoutMs !== undefined && !(Number.isSafeInteger(timeoutMs) && timeoutMs > 0)) {
      throw new SwitchboardError(
        'SB_ERR_OPTIONS_INVALID',
        'drain timeoutMs must be a positive integer',
      );
    }
    return (
      this.find(providerId)?.drain(
        'admin',
        options.timeoutMs ?? this.deps.options.drainTimeoutMs,
      ) ?? false
    );
  }

  /**
   * Closes the uplink's connection now (4002): its calls in flight fail with
   * SB_ERR_UPLINK_DISCONNECTED. The uplink reconnects by itself, as after any dropped connection;
   * to take it out for good, drain it or revoke its key. False if there is no such live uplink.
   */
  disconnect(providerId: string): boolean {
    const connection = this.find(providerId);
    if (connection === undefined) return false;
    connection.fail(
      'SB_ERR_UPLINK_DISCONNECTED',
      CLOSE_CODES.KICKED,
      'Disconnected by the server operator',
    );
    return true;
  }

  /**
   * Closes every connection that authenticated with key `keyId` (just revoked), with
   * SB_ERR_AUTH_BAD_KEY so the uplink does not reconnect; their calls in flight fail at once.
   * Returns how many were closed.
   */
  closeKey(keyId: string): number {
    let closed = 0;
    for (const connection of [...this.connections.values()]) {
      if (connection.key?.id !== keyId) continue;
      connection.fail('SB_ERR_AUTH_BAD_KEY', CLOSE_CODES.AUTH_FAILED, 'The key was revoked');
      closed++;
    }
    return closed;
  }

  /**
   * Keys revoked by another process on the same data folder (`switchboard keys revoke`) reach
   * live connections here, once per heartbeat: one query for all of them.
   */
  private closeRevokedKeys(): void {
    const now = Date.now();
    // A margin for the revoking process's clock and a revoke committed during the last query.
    const since = this.revokesCheckedAt - REVOKE_CHECK_MARGIN_MS;
    this.revokesCheckedAt = now;
    if (this.connections.size === 0) return;
    for (const keyId of this.deps.keys.revokedSince(since)) this.closeKey(keyId);
  }

  private upgrade(req: IncomingMessage, socket: Duplex, head: Buffer): void {
    const pathname = (req.url ?? '/').split('?', 1)[0];
    if (pathname !== UPLINK_PATH) {
      // Leave other paths to other upgrade listeners (when mounted as a plugin) if there are any.
      if (this.server.listenerCount('upgrade') === 1)
        rejectUpgrade(socket, 'SB_ERR_HTTP_NOT_FOUND');
      return;
    }
    if (this.closing) {
      rejectUpgrade(socket, 'SB_ERR_SERVER_CLOSING');
      return;
    }
    let key: KeyRecord | undefined;
    const header = req.headers.authorization;
    if (header !== undefined) {
      const secret = parseBearer(header);
      key = secret === undefined ? undefined : this.deps.keys.verify(secret);
      if (key === undefined) {
        rejectUpgrade(socket, 'SB_ERR_AUTH_BAD_KEY');
        return;
      }
    }
    const remoteAddress = req.socket.remoteAddress ?? '';
    this.wss.handleUpgrade(req, socket, head, (ws) => {
      const connection = new UplinkConnection(
        ws,
        {
          ...this.deps,
          onOpen: (c) => {
            this.deps.log.info(
              { uplink: c.providerId, name: c.name, key: c.key?.name },
              'uplink connected',
            );
          },
          onClose: (c) => {
            this.connections.delete(c.providerId);
            if (c.key !== undefined)
              this.deps.log.info({ uplink: c.providerId }, 'uplink disconnected');
          },
        },
        key,
        { socket, remoteAddress },
      );
      this.connections.set(connection.providerId, connection);
    });
  }

  private beat(): void {
    this.closeRevokedKeys();
    const deadline = performance.now() - 2 * this.deps.options.pingIntervalMs;
    for (const connection of this.connections.values()) {
      if (connection.lastSeenAt < deadline) {
        this.deps.log.info(
          { uplink: connection.providerId },
          'uplink silent for two ping intervals; dropping',
        );
        connection.terminate();
      } else {
        connection.ping();
      }
    }
  }

  /**
   * Shutdown begins: new uplinks are refused (503) and every uplink is told (`goaway`); they
   * keep serving what is in flight, and new calls from uplinks serving nothing are refused.
   */
  goAway(graceMs: number): void {
    this.closing = true;
    for (const connection of this.connections.values()) connection.goAway(graceMs);
  }

  /**
   * Stops accepting, closes every uplink with 1001 (they reconnect), fails their calls with
   * `error` (default SB_ERR_UPLINK_DISCONNECTED).
   */
  close(error?: SwitchboardError): void {
    this.closing = true;
    clearInterval(this.heartbeat);
    this.server.off('upgrade', this.onUpgrade);
    for (const connection of [...this.connections.values()]) {
      connection.close(
        CLOSE_CODES.GOING_AWAY,
        closeReason('SB_ERR_SERVER_CLOSING', 'server shutting down'),
        error,
      );
    }
    this.wss.close();
  }
}

/** Answers an upgrade it will not accept with the code's HTTP status and the JSON error body. */
function rejectUpgrade(socket: Duplex, code: ErrorCode): void {
  const { status, message } = new SwitchboardError(code);
  const body = JSON.stringify({ code, message });
  const headers = [
    `HTTP/1.1 ${status} ${STATUS_CODES[status] ?? ''}`,
    'Connection: close',
    'Content-Type: application/json; charset=utf-8',
    `Content-Length: ${Buffer.byteLength(body)}`,
  ];
  if (status === 401) headers.push('WWW-Authenticate: Bearer realm="switchboard"');
  socket.end(`${headers.join('\r\n')}\r\n\r\n${body}`);
}
