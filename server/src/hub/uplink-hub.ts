import { STATUS_CODES, type IncomingMessage, type Server } from 'node:http';
import type { Duplex } from 'node:stream';
import { performance } from 'node:perf_hooks';
import { WebSocketServer, type WebSocket } from 'ws';
import {
  CLOSE_CODES,
  SwitchboardError,
  UPLINK_PATH,
  closeReason,
  toSwitchboardError,
  type ErrorCode,
} from '@switchboard/shared';
import type { KeyRecord } from '../store/key-store.ts';
import { parseBearer } from '../auth/bearer.ts';
import { UplinkConnection } from './uplink-connection.ts';
import type { ConnectionDeps, Opening } from './uplink-socket.ts';
import { AnvilConnection } from '../anvil/anvil-connection.ts';
import type { HubConnection } from './hub-connection.ts';
import { PreAuthGuard } from './uplink-admission.ts';
import { sweepIntervalMs } from './liveness.ts';

/** Keys revoked up to this long before the previous check are looked at again. */
const REVOKE_CHECK_MARGIN_MS = 5_000;
/** Connections from one address that may be waiting for their hello at once. */
export const MAX_PENDING_PER_ADDRESS = 64;

/**
 * Accepts uplink WebSockets on `/_/uplink` (ws in noServer mode on Fastify's HTTP server),
 * authenticates the upgrade when it carries a key, and keeps every connection alive or drops it
 * with one heartbeat timer for all of them.
 */
export class UplinkHub {
  private readonly wss: WebSocketServer;
  private readonly connections = new Map<string, HubConnection>();
  /** Sockets upgraded whose first message (which tells the dialect) has not arrived. */
  private readonly opening = new Set<WebSocket>();
  /** Connections not yet authenticated, per client address. */
  private readonly pending = new Map<string, number>();
  private readonly heartbeat: NodeJS.Timeout;
  private closing = false;
  /** Wall-clock time of the last look for keys revoked elsewhere. */
  private revokesCheckedAt = Date.now();
  private readonly onUpgrade = (req: IncomingMessage, socket: Duplex, head: Buffer): void =>
    this.upgrade(req, socket, head);
  /** What every connection is given (one object for all: an idle uplink costs memory). */
  private readonly connectionDeps: ConnectionDeps;

  constructor(
    private readonly server: Server,
    private readonly deps: Omit<ConnectionDeps, 'onOpen' | 'onClose'> & {
      /** The client's address, through trusted proxies (the `trustProxy` option). */
      clientAddress(req: IncomingMessage): string;
    },
  ) {
    this.wss = new WebSocketServer({
      noServer: true,
      // Messages up to twice the limit are read and answered with a coded error frame; beyond
      // that ws itself closes with 1009 before buffering more.
      maxPayload: deps.options.maxFrameBytes * 2,
      perMessageDeflate: false,
    });
    this.connectionDeps = {
      ...deps,
      onOpen: (c) => {
        deps.log.info(
          { uplink: c.providerId, name: c.name, key: c.key?.name, dialect: c.dialect },
          'uplink connected',
        );
      },
      onClose: (c) => {
        this.connections.delete(c.providerId);
        if (c.key !== undefined) deps.log.info({ uplink: c.providerId }, 'uplink disconnected');
      },
    };
    server.on('upgrade', this.onUpgrade);
    this.heartbeat = setInterval(() => this.beat(), sweepIntervalMs(deps.options));
    this.heartbeat.unref();
  }

  /** Live, authenticated connections (draining ones included). */
  uplinks(): HubConnection[] {
    return [...this.connections.values()].filter((c) => c.isOpen);
  }

  /** The live, authenticated connection with this id. */
  find(providerId: string): HubConnection | undefined {
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
    if (now - this.revokesCheckedAt < this.deps.options.pingIntervalMs) return;
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
    const remoteAddress = this.deps.clientAddress(req);
    let key: KeyRecord | undefined;
    const header = req.headers.authorization;
    if (header !== undefined) {
      try {
        key = this.deps.keyThrottle.verify(
          this.deps.keys,
          parseBearer(header) ?? '',
          remoteAddress,
        );
      } catch (error) {
        rejectUpgrade(socket, toSwitchboardError(error));
        return;
      }
    }
    const pending = this.pending.get(remoteAddress) ?? 0;
    if (pending >= MAX_PENDING_PER_ADDRESS) {
      rejectUpgrade(
        socket,
        new SwitchboardError(
          'SB_ERR_RATE_LIMITED',
          `Too many connections from this address are waiting to authenticate`,
        ),
      );
      return;
    }
    this.pending.set(remoteAddress, pending + 1);
    let counted = true;
    const authenticated = (): void => {
      if (!counted) return;
      counted = false;
      const left = (this.pending.get(remoteAddress) ?? 1) - 1;
      if (left <= 0) this.pending.delete(remoteAddress);
      else this.pending.set(remoteAddress, left);
    };
    // When ws refuses the handshake itself (no callback then) or the socket just goes; once
    // upgraded, the connection's pre-auth guard tells (authenticated, refused or closed).
    socket.once('close', authenticated);
    this.wss.handleUpgrade(req, socket, head, (ws) => {
      socket.off('close', authenticated);
      this.open(ws, key, { socket, remoteAddress, authenticated });
    });
  }

  /**
   * A socket just upgraded: its first message tells the dialect (binary: Switchboard's `hello`;
   * text: Anvil's key message) and makes the connection that serves it. The byte budget and the
   * auth deadline run from the start; a refusal before the first message is a bare close.
   */
  private open(
    ws: WebSocket,
    key: KeyRecord | undefined,
    {
      socket,
      remoteAddress,
      authenticated,
    }: { socket: Duplex; remoteAddress: string; authenticated: () => void },
  ): void {
    const deps = this.connectionDeps;
    const preAuth = new PreAuthGuard(
      socket,
      deps.options.authTimeoutMs,
      (code, closeCode, message) => {
        this.opening.delete(ws);
        ws.close(closeCode, closeReason(code, message ?? code));
        preAuth.cut();
      },
      authenticated,
    );
    const opening: Opening = { socket, remoteAddress, preAuth };
    this.opening.add(ws);
    const onError = (error: Error): void =>
      deps.log.debug({ err: error }, 'uplink socket error before its first message');
    const onClose = (): void => {
      if (this.opening.delete(ws)) preAuth.end();
    };
    ws.on('error', onError);
    ws.once('close', onClose);
    ws.once('message', (data, isBinary) => {
      if (!this.opening.delete(ws)) return; // refused meanwhile
      // The connection listens from now on: nothing of this opening stays attached to it.
      ws.off('error', onError);
      ws.off('close', onClose);
      const connection: HubConnection = isBinary
        ? new UplinkConnection(ws, deps, key, opening)
        : new AnvilConnection(ws, deps, opening);
      this.connections.set(connection.providerId, connection);
      connection.received(data, isBinary);
    });
  }

  /** The liveness sweep: pings, takes silent uplinks out of rotation, closes frozen ones. */
  private beat(): void {
    this.closeRevokedKeys();
    const now = performance.now();
    const { options } = this.deps;
    for (const connection of this.connections.values()) {
      if (!connection.isOpen) continue; // not authenticated yet: the auth deadline applies
      const action = connection.liveness.check(now, connection.inFlight > 0, options);
      switch (action) {
        case 'none':
          break;
        case 'ping':
          connection.ping();
          break;
        case 'suspect':
          connection.suspect();
          break;
        case 'drop':
          connection.dropUnresponsive();
          break;
        default: {
          const unreachable: never = action;
          throw new Error(`unhandled liveness action ${String(unreachable)}`);
        }
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
    const reason = closeReason('SB_ERR_SERVER_CLOSING', 'server shutting down');
    for (const connection of [...this.connections.values()])
      connection.close(CLOSE_CODES.GOING_AWAY, reason, error);
    for (const ws of this.opening) ws.close(CLOSE_CODES.GOING_AWAY, reason);
    this.wss.close();
  }
}

/** Answers an upgrade it will not accept with the code's HTTP status and the JSON error body. */
function rejectUpgrade(socket: Duplex, reason: ErrorCode | SwitchboardError): void {
  const error = typeof reason === 'string' ? new SwitchboardError(reason) : reason;
  const { code, status, message } = error;
  const body = JSON.stringify({ code, message });
  const headers = [
    `HTTP/1.1 ${status} ${STATUS_CODES[status] ?? ''}`,
    'Connection: close',
    'Content-Type: application/json; charset=utf-8',
    `Content-Length: ${Buffer.byteLength(body)}`,
  ];
  if (status === 401) headers.push('WWW-Authenticate: Bearer realm="switchboard"');
  if (status === 429) {
    const seconds = (error.data as { retryAfterSeconds?: number } | undefined)?.retryAfterSeconds;
    headers.push(`Retry-After: ${seconds ?? 1}`);
  }
  // Destroyed once written: the peer may never close its half, and no HTTP timeout covers it.
  socket.once('finish', () => socket.destroy());
  socket.end(`${headers.join('\r\n')}\r\n\r\n${body}`);
}
