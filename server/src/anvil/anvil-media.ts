import { SwitchboardError } from '@switchboard/shared';
import type { ChunkHeaderFrame, MediaErrorFrame, ObjectDescriptor } from './anvil-frames.ts';
import type { OutgoingMedia } from './anvil-values.ts';

/** Bytes of media per binary message, as Anvil's client sends them. */
export const MEDIA_CHUNK_BYTES = 65_536;
/** A message whose media stop arriving for this long is given up. */
export const MEDIA_STALL_MS = 60_000;
/**
 * Messages of one connection that may wait for their media at once: as many as the native
 * dialect's open streams. The dialect cannot refuse one message (its chunks follow regardless),
 * so one more closes the connection.
 */
export const MAX_MESSAGES_IN_TRANSFER = 1024;

/** A received message's media bytes by id (all of its chunks arrived). */
export type MediaLookup = (id: string) => Uint8Array | undefined;

/** A message waiting for its media; `ready` runs once every one has arrived. */
interface Waiting {
  /** Media ids still open, with their chunks so far. */
  readonly open: Map<string, Buffer[]>;
  readonly done: Map<string, Uint8Array>;
  readonly ready: (media: MediaLookup) => void;
  readonly failed: (error: SwitchboardError) => void;
  timer: NodeJS.Timeout;
}

/**
 * Collects the media chunks of messages from an Anvil uplink: each JSON message announces its
 * media in `objects`, then every chunk arrives as a text CHUNK_HEADER followed by one binary
 * message (pairs of other messages may come between). Bytes held for all messages of the
 * connection are bounded by `maxBytes`; a connection that sends more is refused.
 */
export class MediaIn {
  private readonly waiting = new Map<string, Waiting>();
  /** The header whose binary message comes next. */
  private header: ChunkHeaderFrame | undefined;
  private held = 0;

  constructor(private readonly maxBytes: () => number) {}

  /** Messages still waiting for media. */
  get size(): number {
    return this.waiting.size;
  }

  /** A binary message is due next: the previous text message was a CHUNK_HEADER. */
  get expectsBinary(): boolean {
    return this.header !== undefined;
  }

  /**
   * A message arrived with `objects`: `ready` runs now when it has no media, else once its
   * last chunk has arrived; `failed` if they never do (stall, MEDIA_ERROR, connection lost).
   */
  expect(
    requestId: string,
    objects: readonly ObjectDescriptor[],
    ready: Waiting['ready'],
    failed: Waiting['failed'],
  ): void {
    const ids = objects
      .filter((descriptor) => descriptor.type[0] === 'DataMedia')
      .map((descriptor) => descriptor.id);
    if (ids.length === 0) {
      ready(() => undefined);
      return;
    }
    if (this.waiting.has(requestId))
      throw bad(`media of message ${requestId} are already being received`);
    if (this.waiting.size >= MAX_MESSAGES_IN_TRANSFER) {
      throw new SwitchboardError(
        'SB_ERR_STREAM_LIMIT',
        `${MAX_MESSAGES_IN_TRANSFER} messages are already waiting for their media`,
      );
    }
    const open = new Map<string, Buffer[]>();
    for (const id of ids) {
      if (typeof id !== 'string' || id === '' || open.has(id))
        throw bad('each DataMedia needs its own string id');
      open.set(id, []);
    }
    const waiting: Waiting = {
      open,
      done: new Map(),
      ready,
      failed,
      timer: this.stallTimer(requestId),
    };
    this.waiting.set(requestId, waiting);
  }

  /** A CHUNK_HEADER: the next message must be its binary chunk. */
  chunkHeader(frame: ChunkHeaderFrame): void {
    if (this.header !== undefined) throw bad('CHUNK_HEADER without its binary message');
    const waiting = this.waiting.get(frame.requestId);
    if (waiting?.open.has(frame.mediaId) !== true)
      throw bad(`no media ${frame.mediaId} is expected for message ${frame.requestId}`);
    this.header = frame;
  }

  /** The binary message after a CHUNK_HEADER. Throws for one that has no header. */
  chunk(bytes: Buffer): void {
    const header = this.header;
    if (header === undefined) throw bad('a binary message must follow a CHUNK_HEADER');
    this.header = undefined;
    const waiting = this.waiting.get(header.requestId);
    const chunks = waiting?.open.get(header.mediaId);
    if (waiting === undefined || chunks === undefined) return; // given up meanwhile
    if (header.chunkIndex !== chunks.length)
      throw bad(`chunk ${header.chunkIndex} of media ${header.mediaId} arrived out of order`);
    this.held += bytes.byteLength;
    if (this.held > this.maxBytes()) {
      throw new SwitchboardError(
        'SB_ERR_PROTO_FRAME_TOO_LARGE',
        `media in transfer exceed ${this.maxBytes()} bytes (maxMessageBytes)`,
      );
    }
    chunks.push(bytes);
    waiting.timer.refresh();
    if (!header.lastChunk) return;
    waiting.open.delete(header.mediaId);
    waiting.done.set(header.mediaId, chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks));
    if (waiting.open.size > 0) return;
    this.release(header.requestId, waiting);
    waiting.ready((id) => waiting.done.get(id));
  }

  /** The sender gave up on media of a message: the message fails. */
  mediaError(frame: MediaErrorFrame): void {
    const waiting = this.waiting.get(frame.requestId);
    if (waiting === undefined) return;
    this.release(frame.requestId, waiting);
    waiting.failed(new SwitchboardError('SB_ERR_REMOTE_ERROR', `Media failed: ${frame.message}`));
  }

  /** The connection is gone: every message still waiting fails with `error`. */
  failAll(error: SwitchboardError): void {
    this.header = undefined;
    for (const [requestId, waiting] of [...this.waiting]) {
      this.release(requestId, waiting);
      waiting.failed(error);
    }
  }

  private release(requestId: string, waiting: Waiting): void {
    clearTimeout(waiting.timer);
    this.waiting.delete(requestId);
    for (const chunks of waiting.open.values())
      for (const chunk of chunks) this.held -= chunk.byteLength;
    for (const bytes of waiting.done.values()) this.held -= bytes.byteLength;
  }

  private stallTimer(requestId: string): NodeJS.Timeout {
    const timer = setTimeout(() => {
      const waiting = this.waiting.get(requestId);
      if (waiting === undefined) return;
      this.release(requestId, waiting);
      waiting.failed(
        new SwitchboardError(
          'SB_ERR_CALL_TIMEOUT',
          `No media chunk of message ${requestId} arrived for ${MEDIA_STALL_MS / 1000} s`,
        ),
      );
    }, MEDIA_STALL_MS);
    timer.unref();
    return timer;
  }
}

/** What sends an Anvil message: text for JSON, binary for a chunk right after its header. */
export interface AnvilSocket {
  send(data: string | Uint8Array): void;
}

/**
 * Sends the chunks of `media` after the message `requestId` that announced them: per chunk a
 * CHUNK_HEADER and its binary message, back to back (nothing else may come between the two;
 * ws writes in order). An empty media is one empty last chunk.
 */
export function sendMedia(
  socket: AnvilSocket,
  requestId: string,
  media: readonly OutgoingMedia[],
): void {
  for (const { id, bytes } of media) {
    let chunkIndex = 0;
    let offset = 0;
    do {
      const end = Math.min(offset + MEDIA_CHUNK_BYTES, bytes.byteLength);
      socket.send(
        JSON.stringify({
          type: 'CHUNK_HEADER',
          requestId,
          mediaId: id,
          chunkIndex: chunkIndex++,
          lastChunk: end === bytes.byteLength,
        }),
      );
      socket.send(bytes.subarray(offset, end));
      offset = end;
    } while (offset < bytes.byteLength);
  }
}

function bad(message: string): SwitchboardError {
  return new SwitchboardError('SB_ERR_PROTO_BAD_FRAME', message);
}
