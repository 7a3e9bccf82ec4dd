import type { Duplex } from 'node:stream';

/** The part of a `ws` WebSocket the writer uses. */
export interface BinarySocket {
  readonly readyState: number;
  /** Negotiated extensions ('' for none; known once open). */
  readonly extensions: string;
  send(data: Buffer): void;
}

/** WebSocket.OPEN */
const OPEN = 1;

/**
 * Writes binary WebSocket messages. A message given as parts (a spliced frame: head, large body,
 * tail) is written as one WebSocket frame straight onto the socket, header first, so the body is
 * never copied into a joined buffer; the peer sees an ordinary single-frame message.
 *
 * Writing beside `ws` is safe because ws writes every frame synchronously while it neither
 * compresses (perMessageDeflate is off on both ends, and checked) nor converts Blobs (never sent
 * here), so the socket's order is the order of calls. Without the socket, with an extension, or
 * with masking keys that are not all zero, parts are joined and sent through ws.
 */
export class MessageWriter {
  constructor(
    private readonly ws: BinarySocket,
    /** The upgraded socket under `ws`; undefined until known (the client learns it on upgrade). */
    private socket: Duplex | undefined,
    /** Client to server: frames carry the mask bit with an all-zero key (payload unchanged). */
    private readonly masked: boolean,
  ) {}

  setSocket(socket: Duplex): void {
    this.socket = socket;
  }

  send(message: Buffer): void {
    this.ws.send(message);
  }

  sendParts(parts: readonly Buffer[], byteLength: number): void {
    const socket = this.socket;
    // With an extension (permessage-deflate) ws may queue its frames: writing beside it could
    // reorder them, so the parts go through ws.
    if (socket === undefined || this.ws.extensions !== '') {
      this.ws.send(Buffer.concat(parts, byteLength));
      return;
    }
    // ws drops what is sent after close began; so does this.
    if (this.ws.readyState !== OPEN || socket.destroyed) return;
    socket.cork();
    socket.write(frameHeader(byteLength, this.masked));
    for (const part of parts) socket.write(part);
    socket.uncork();
  }
}

/** RFC 6455 §5.2: FIN + binary opcode, payload length, and an all-zero masking key if masked. */
function frameHeader(length: number, masked: boolean): Buffer {
  const lengthBytes = length < 126 ? 0 : length <= 0xffff ? 2 : 8;
  const header = Buffer.alloc(2 + lengthBytes + (masked ? 4 : 0)); // zeroed: the key is 0
  header[0] = 0x82;
  const maskBit = masked ? 0x80 : 0;
  if (lengthBytes === 0) {
    header[1] = maskBit | length;
  } else if (lengthBytes === 2) {
    header[1] = maskBit | 126;
    header.writeUInt16BE(length, 2);
  } else {
    header[1] = maskBit | 127;
    header.writeUIntBE(length, 4, 6); // the top two bytes stay 0 (lengths below 2^48)
  }
  return header;
}
