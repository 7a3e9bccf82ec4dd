import { performance } from 'node:perf_hooks';
import WebSocket from 'ws';
import {
  CLOSE_CODES,
  PROTOCOL_VERSION,
  SwitchboardError,
  decodeServerMessage,
  MessageWriter,
  isErrorCode,
  toSwitchboardError,
  type MessageSink,
  type ServerToUplinkFrame,
  type UplinkToServerFrame,
  type WelcomeFrame,
} from '@switchboard/shared';
import type { ResolvedConnectOptions } from './options.ts';

export interface ConnectionHandlers {
  welcome(frame: WelcomeFrame): void;
  /** Every frame after welcome. */
  frame(frame: ServerToUplinkFrame): void;
  /** Called exactly once; `permanent` when retrying cannot help (bad key, wrong protocol). */
  closed(error: SwitchboardError, permanent: boolean): void;
}

/** Codes after which reconnecting with the same settings cannot succeed. */
const PERMANENT = new Set<string>([
  'SB_ERR_AUTH_BAD_KEY',
  'SB_ERR_AUTH_MISSING_KEY',
  'SB_ERR_AUTH_NOT_AUTHENTICATED',
  'SB_ERR_PROTO_VERSION',
]);

/** The uplink's protocol engine, as far as one connection uses it (see PeerEngine). */
export interface ConnectionPeer {
  attach(transport: MessageSink): void;
  detach(): void;
  push(frame: UplinkToServerFrame): UplinkToServerFrame;
  flush(): void;
}

/**
 * One WebSocket attempt: upgrade with the key in the Authorization header, hello, welcome,
 * heartbeat (ping every interval; a server silent for two intervals is dropped), frames in and
 * out. A lost connection is not retried here; the Uplink makes a new Connection.
 */
export class Connection {
  private readonly ws: WebSocket;
  private welcomed = false;
  private ended = false;
  private lastError: SwitchboardError | undefined;
  private lastSeenAt = performance.now();
  private heartbeat: NodeJS.Timeout | undefined;

  constructor(
    private readonly options: ResolvedConnectOptions,
    /** The server this connection goes to (one of `options.wsUrls`). */
    wsUrl: string,
    private readonly handlers: ConnectionHandlers,
    /** Frames go out through it; it writes to this connection's socket until the end. */
    private readonly peer: ConnectionPeer,
  ) {
    this.ws = new WebSocket(wsUrl, {
      headers: { authorization: `Bearer ${options.key}` },
      maxPayload: options.maxFrameBytes * 2,
      perMessageDeflate: false,
      // Masking protects proxies from frames crafted by untrusted browser scripts; an uplink
      // sends its own data, and an all-zero key lets both ends skip the XOR pass over every byte.
      ...(options.maskFrames ? {} : { generateMask: zeroMask }),
    });
    // Spliced frames are written straight onto the socket only with the all-zero key.
    const writer = new MessageWriter(this.ws, undefined, true);
    if (!options.maskFrames)
      this.ws.once('upgrade', (response) => writer.setSocket(response.socket));
    peer.attach(writer);
    this.ws.on('open', () => this.opened());
    this.ws.on('message', (data, isBinary) => this.received(data as Buffer, isBinary));
    this.ws.on('ping', () => this.seen());
    this.ws.on('pong', () => this.seen());
    this.ws.on('unexpected-response', (request, response) => {
      const chunks: Buffer[] = [];
      response.on('data', (chunk: Buffer) => chunks.push(chunk));
      response.on('end', () => {
        this.lastError = errorFromHttp(
          response.statusCode ?? 0,
          Buffer.concat(chunks).toString('utf8'),
        );
        request.destroy();
        this.end(this.lastError);
      });
      response.on('error', () => undefined);
    });
    this.ws.on('error', (error) => {
      this.lastError ??= new SwitchboardError('SB_ERR_CONNECTION_FAILED', error.message, {
        cause: error,
      });
    });
    this.ws.on('close', (code, reason) =>
      // 4003: the server closed a drained connection at its deadline; never reconnect after it.
      this.end(errorFromClose(code, reason.toString('utf8')), code === CLOSE_CODES.DRAINED),
    );
  }

  /** Encodes and queues a frame; throws SB_ERR_PROTO_FRAME_TOO_LARGE or SB_ERR_VALUE_NOT_SERIALIZABLE. */
  send(frame: UplinkToServerFrame): void {
    this.peer.push(frame);
  }

  /** Closes on purpose (1000, or 4003 after a drain); the closed handler still runs once. */
  close(code: number = CLOSE_CODES.NORMAL, reason = 'client closing'): void {
    if (this.ended) return;
    this.peer.flush();
    this.ws.close(code, reason);
    this.end(new SwitchboardError('SB_ERR_CLIENT_CLOSED'));
  }

  private opened(): void {
    this.peer.push({
      type: 'hello',
      protocol: PROTOCOL_VERSION,
      maxFrameBytes: this.options.maxFrameBytes,
      ...(this.options.name === undefined ? {} : { name: this.options.name }),
    });
    this.peer.flush();
  }

  private received(data: Buffer, isBinary: boolean): void {
    if (this.ended) return;
    this.seen();
    let frames: ServerToUplinkFrame[];
    try {
      if (!isBinary)
        throw new SwitchboardError('SB_ERR_PROTO_BAD_FRAME', 'text message from server');
      frames = decodeServerMessage(data);
    } catch (error) {
      this.lastError = toSwitchboardError(error, 'SB_ERR_PROTO_BAD_FRAME');
      this.ws.close(CLOSE_CODES.PROTOCOL_ERROR, 'SB_ERR_PROTO_BAD_FRAME');
      return;
    }
    for (const frame of frames) {
      if (this.ended) return;
      if (frame.type === 'error' && frame.id === undefined) {
        // Connection-level error: the server closes right after it.
        this.lastError = SwitchboardError.fromWire(frame.error);
      } else if (!this.welcomed) {
        if (frame.type !== 'welcome') continue;
        this.welcomed = true;
        this.startHeartbeat(this.options.pingIntervalMs ?? frame.limits.pingIntervalMs);
        this.handlers.welcome(frame);
      } else {
        this.handlers.frame(frame);
      }
    }
  }

  private seen(): void {
    this.lastSeenAt = performance.now();
  }

  private startHeartbeat(intervalMs: number): void {
    this.heartbeat = setInterval(() => {
      if (performance.now() - this.lastSeenAt > 2 * intervalMs) {
        this.lastError = new SwitchboardError(
          'SB_ERR_CONNECTION_LOST',
          `No sign of life from the server for ${2 * intervalMs} ms`,
        );
        this.ws.terminate();
      } else if (this.ws.readyState === WebSocket.OPEN) {
        this.ws.ping();
      }
    }, intervalMs);
    this.heartbeat.unref();
  }

  private end(fallback: SwitchboardError, permanent = false): void {
    if (this.ended) return;
    this.ended = true;
    if (this.heartbeat !== undefined) clearInterval(this.heartbeat);
    this.peer.detach();
    if (this.ws.readyState === WebSocket.CONNECTING || this.ws.readyState === WebSocket.OPEN) {
      this.ws.terminate();
    }
    const error =
      fallback.code === 'SB_ERR_CLIENT_CLOSED' ? fallback : (this.lastError ?? fallback);
    this.handlers.closed(error, permanent || PERMANENT.has(error.code));
  }
}

function zeroMask(mask: Buffer): void {
  mask.fill(0);
}

function errorFromHttp(status: number, body: string): SwitchboardError {
  try {
    const parsed = JSON.parse(body) as { code?: unknown; message?: unknown };
    if (isErrorCode(parsed.code)) {
      return new SwitchboardError(
        parsed.code,
        typeof parsed.message === 'string' ? parsed.message : undefined,
      );
    }
  } catch {
    // not one of ours; fall through
  }
  if (status === 401) return new SwitchboardError('SB_ERR_AUTH_BAD_KEY');
  return new SwitchboardError(
    'SB_ERR_CONNECTION_FAILED',
    `Server answered the upgrade with HTTP ${status}`,
  );
}

function errorFromClose(code: number, reason: string): SwitchboardError {
  const prefix = reason.split(':', 1)[0];
  if (isErrorCode(prefix))
    return new SwitchboardError(prefix, reason.slice(prefix.length + 2) || undefined);
  if (code === CLOSE_CODES.MESSAGE_TOO_BIG)
    return new SwitchboardError('SB_ERR_PROTO_FRAME_TOO_LARGE');
  return new SwitchboardError(
    'SB_ERR_CONNECTION_LOST',
    `Connection closed (${code}${reason === '' ? '' : `: ${reason}`})`,
  );
}

/** A refused or dropped first attempt, said with the address and the way to wait instead. */
export function firstAttemptError(wsUrl: string, error: SwitchboardError): SwitchboardError {
  if (error.code !== 'SB_ERR_CONNECTION_FAILED' && error.code !== 'SB_ERR_CONNECTION_LOST')
    return error;
  return new SwitchboardError(
    'SB_ERR_CONNECTION_FAILED',
    `Could not connect to ${wsUrl} (${error.message}); is the server running? ` +
      'Pass waitForServer: true to wait for it',
    { cause: error },
  );
}
