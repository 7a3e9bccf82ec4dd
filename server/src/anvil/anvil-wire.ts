import type { WebSocket } from 'ws';
import { SwitchboardError, toSwitchboardError, type DecodeLimits } from '@switchboard/shared';
import type { UplinkTraffic } from '../observe/uplink-traffic.ts';
import {
  decodeAnvilText,
  type AnvilFrame,
  type ChunkHeaderFrame,
  type MediaErrorFrame,
  type ObjectDescriptor,
} from './anvil-frames.ts';
import { MediaIn, sendMedia } from './anvil-media.ts';
import { deserialise, serialise } from './anvil-values.ts';

/**
 * Messages of one Anvil connection as values: text messages decoded through the gate, media
 * chunks collected until a message is whole (its described values put in place), and messages
 * out serialised with their media chunked after them. Counts bytes both ways.
 */
export class AnvilWire {
  private readonly media: MediaIn;
  private nextMediaId = 0;

  constructor(
    private readonly ws: WebSocket,
    private readonly traffic: UplinkTraffic,
    maxMediaBytes: () => number,
  ) {
    this.media = new MediaIn(maxMediaBytes);
  }

  /** Messages whose media are still arriving. */
  get waiting(): number {
    return this.media.size;
  }

  /**
   * One message from the socket: a text message's frame, or undefined for a media chunk (a
   * binary message, which must follow its CHUNK_HEADER). Throws SB_ERR_PROTO_BAD_FRAME (or
   * SB_ERR_PROTO_FRAME_TOO_LARGE for media beyond the budget).
   */
  read(data: Buffer, isBinary: boolean, limits: DecodeLimits): AnvilFrame | undefined {
    this.traffic.bytesIn += data.byteLength;
    if (isBinary) {
      this.media.chunk(data);
      return undefined;
    }
    if (this.media.expectsBinary) throw bad('a CHUNK_HEADER must be followed by its chunk');
    return decodeAnvilText(data.toString('utf8'), limits);
  }

  /**
   * `message` (the JSON of a call or an answer) arrived with `objects`: once its media have all
   * arrived, the described values are put in place and `ready` runs; `failed` if they never
   * arrive or cannot be read.
   */
  whole(
    { id, objects }: { id: string; objects: readonly ObjectDescriptor[] },
    message: Record<string, unknown>,
    ready: () => void,
    failed: (error: SwitchboardError) => void,
  ): void {
    this.media.expect(
      id,
      objects,
      (media) => {
        try {
          deserialise(message, objects, media);
        } catch (error) {
          failed(toSwitchboardError(error));
          return;
        }
        ready();
      },
      failed,
    );
  }

  chunkHeader(frame: ChunkHeaderFrame): void {
    this.media.chunkHeader(frame);
  }

  mediaError(frame: MediaErrorFrame): void {
    this.media.mediaError(frame);
  }

  /** The connection is gone: messages still waiting for media fail with `error`. */
  failAll(error: SwitchboardError): void {
    this.media.failAll(error);
  }

  /**
   * Sends a message whose values may hold media, dates and other non-JSON values: the JSON with
   * its `objects`, then the media chunks (`requestId` = the message's `id`).
   */
  post(message: Record<string, unknown>): void {
    const { json, objects, media } = serialise(message, () => `m${++this.nextMediaId}`);
    json.objects = objects;
    this.postRaw(json);
    if (media.length > 0) sendMedia(this.socket, String(message.id), media);
  }

  /** Sends plain JSON. */
  postRaw(json: Record<string, unknown>): void {
    this.socket.send(JSON.stringify(json));
  }

  private readonly socket = {
    send: (data: string | Uint8Array): void => {
      this.traffic.bytesOut += typeof data === 'string' ? Buffer.byteLength(data) : data.byteLength;
      this.ws.send(data);
    },
  };
}

function bad(message: string): SwitchboardError {
  return new SwitchboardError('SB_ERR_PROTO_BAD_FRAME', message);
}
