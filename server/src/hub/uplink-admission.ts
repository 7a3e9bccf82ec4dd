import type { Duplex } from 'node:stream';
import type { WebSocket } from 'ws';
import {
  CLOSE_CODES,
  DEFAULT_DECODE_LIMITS,
  PROTOCOL_VERSION,
  toSwitchboardError,
  type CallerInfo,
  type DecodeLimits,
  type ErrorCode,
  type HelloFrame,
  type KeyKind,
  type WelcomeFrame,
} from '@switchboard/shared';
import type { ResolvedOptions } from '../options.ts';
import type { KeyRecord } from '../store/key-store.ts';

/**
 * Bytes a connection may send before its hello (or Anvil key message) is accepted, WebSocket
 * framing included: the hello and nothing else. Counted on the raw socket and checked after each
 * read has been parsed, so `ws` never holds more than one read of a message that crosses it, and
 * an Anvil client's REGISTERs that follow its key in the same read are not held against it.
 */
export const PRE_AUTH_MAX_BYTES = 8 * 1024;
/** A connection refused before authentication is cut this long after its close frame. */
const PRE_AUTH_LINGER_MS = 1_000;

type Refuse = (...refusal: Refusal) => void;

/**
 * Watches a connection from its upgrade until its hello is accepted: the byte budget on the raw
 * socket and the auth deadline. Both end in `refuse`, which the connection takes over once the
 * first message has told its dialect; `cut()` then stops reading the socket and destroys it soon.
 */
export class PreAuthGuard {
  private bytes = 0;
  private ended = false;
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly socket: Duplex,
    timeoutMs: number,
    /** Who acts on a refusal: the hub until the dialect is known, then the connection. */
    public refuse: Refuse,
    /** Told once when watching ends (authenticated, refused or closed). */
    private settled?: () => void,
  ) {
    // Counted ahead of ws's own listener, checked after it has parsed the read.
    socket.prependListener('data', this.count);
    socket.on('data', this.check);
    this.timer = setTimeout(
      () => this.refuse('SB_ERR_AUTH_TIMEOUT', CLOSE_CODES.AUTH_FAILED),
      timeoutMs,
    );
  }

  private readonly count = (chunk: Buffer): void => {
    this.bytes += chunk.byteLength;
  };

  /** Still not authenticated after this read and over the budget: refused. */
  private readonly check = (): void => {
    // Ended during this very read (the hello or key was in it): removing the listener does not
    // stop the 'data' event that is being emitted from calling it.
    if (this.ended || this.bytes <= PRE_AUTH_MAX_BYTES) return;
    this.refuse(
      'SB_ERR_PROTO_FRAME_TOO_LARGE',
      CLOSE_CODES.MESSAGE_TOO_BIG,
      `before its hello is accepted a connection may send at most ${PRE_AUTH_MAX_BYTES} bytes`,
    );
  };

  /** The hello was accepted, or the connection closed: no more counting, no deadline. */
  end(): void {
    if (this.ended) return;
    this.ended = true;
    clearTimeout(this.timer);
    // An idle uplink keeps its guard: keep nothing else alive through it.
    this.timer = undefined;
    this.socket.off('data', this.count);
    this.socket.off('data', this.check);
    const settled = this.settled;
    this.settled = undefined;
    settled?.();
  }

  /**
   * After a refusal (error and close frames queued): no more reading (the sender is held back by
   * TCP, nothing more is buffered), the socket ended once they are written, and destroyed soon
   * whatever the peer does.
   */
  cut(): void {
    this.end();
    this.socket.pause();
    this.socket.end();
    setTimeout(() => this.socket.destroy(), PRE_AUTH_LINGER_MS).unref();
  }
}

/** What one connection may send and have held, by the kind of its key. */
export interface ConnectionBudget {
  /** Largest message accepted from it. */
  maxFrameBytes: number;
  /** Largest message it may send as a stream (and have reassembled here at once). */
  maxMessageBytes: number;
  /** Budget of one decoded message. */
  decodeLimits: DecodeLimits;
}

/**
 * A server key gets the server's limits; a client key calls, and never needs the server to hold
 * what a provider may (`clientKeyLimits`).
 */
export function budgetFor(kind: KeyKind, options: ResolvedOptions): ConnectionBudget {
  if (kind !== 'client') {
    return {
      maxFrameBytes: options.maxFrameBytes,
      maxMessageBytes: options.maxMessageBytes,
      decodeLimits: DEFAULT_DECODE_LIMITS,
    };
  }
  const budget = options.clientKeyLimits;
  return {
    maxFrameBytes: Math.min(budget.maxFrameBytes, options.maxFrameBytes),
    maxMessageBytes: Math.min(budget.maxMessageBytes, options.maxMessageBytes),
    decodeLimits: { ...DEFAULT_DECODE_LIMITS, maxValues: budget.maxValues },
  };
}

/** The welcome for an accepted hello: who the server took it for, and the limits both keep. */
export function welcomeFrame(
  connectionId: string,
  key: { kind: KeyKind; name: string },
  budget: ConnectionBudget,
  options: ResolvedOptions,
): WelcomeFrame {
  return {
    type: 'welcome',
    protocol: PROTOCOL_VERSION,
    connectionId,
    keyKind: key.kind,
    keyName: key.name,
    limits: {
      maxFrameBytes: budget.maxFrameBytes,
      pingIntervalMs: options.pingIntervalMs,
      defaultCallTimeoutMs: options.callTimeoutMs,
      streamWindowBytes: options.streamWindowBytes,
      maxMessageBytes: budget.maxMessageBytes,
    },
  };
}

/** Why a connection is refused: its error code, close code and message. */
export type Refusal = [code: ErrorCode, closeCode: number, message?: string];

/**
 * The key a hello authenticates: the one checked at the upgrade, or the hello's own (`verify`
 * checks it, through the wrong-key throttle). Otherwise, why the hello is refused.
 */
export function helloKey(
  frame: HelloFrame,
  upgradeKey: KeyRecord | undefined,
  verify: (key: string) => KeyRecord,
): KeyRecord | Refusal {
  if (frame.protocol !== PROTOCOL_VERSION) {
    const message = `server speaks protocol ${PROTOCOL_VERSION}, uplink asked for ${frame.protocol}`;
    return ['SB_ERR_PROTO_VERSION', CLOSE_CODES.PROTOCOL_ERROR, message];
  }
  if (upgradeKey !== undefined) return upgradeKey;
  if (frame.key === undefined) return ['SB_ERR_AUTH_MISSING_KEY', CLOSE_CODES.AUTH_FAILED];
  try {
    return verify(frame.key);
  } catch (error) {
    const coded = toSwitchboardError(error);
    return [coded.code, CLOSE_CODES.AUTH_FAILED, coded.message];
  }
}

/** Who the uplink is when it calls: its key, its connection, the name it gave. */
export function uplinkCaller(key: KeyRecord, connectionId: string, name?: string): CallerInfo {
  return {
    kind: 'uplink',
    keyName: key.name,
    keyKind: key.kind,
    connectionId,
    ...(name === undefined ? {} : { uplinkName: name }),
  };
}

/** A message the frame loop refuses before decoding it: text, or above the connection's limit. */
export function messageRefusal(
  data: unknown,
  isBinary: boolean,
  maxFrameBytes: number,
): Refusal | undefined {
  if (!isBinary || !Buffer.isBuffer(data))
    return ['SB_ERR_PROTO_BAD_FRAME', CLOSE_CODES.PROTOCOL_ERROR, 'frames must be binary messages'];
  if (data.byteLength <= maxFrameBytes) return undefined;
  const message = `message of ${data.byteLength} bytes exceeds maxFrameBytes ${maxFrameBytes}`;
  return ['SB_ERR_PROTO_FRAME_TOO_LARGE', CLOSE_CODES.MESSAGE_TOO_BIG, message];
}

/**
 * Lowers what `ws` buffers of one message from this peer to twice `maxFrameBytes`, like the
 * server-wide setting: messages up to that are read and refused with a coded error frame, larger
 * ones are cut by `ws` itself (1009) while they arrive. `ws` sets its limit per server; its
 * receiver's field is the only per-connection handle (checked, so a `ws` without it keeps the
 * server-wide limit).
 */
export function limitReceiver(ws: WebSocket, maxFrameBytes: number): void {
  const receiver = (ws as unknown as { _receiver?: { _maxPayload?: unknown } })._receiver;
  if (receiver !== undefined && typeof receiver._maxPayload === 'number')
    receiver._maxPayload = maxFrameBytes * 2;
}
