import { Media } from '../values/media.ts';

/**
 * The Media extension (type 1): its payload is the MessagePack array
 * `[contentType, name | nil, bin]`, written and read here by hand so that it is plain
 * MessagePack whatever the main codec does, and so that no codec library needs to know the type.
 */
export const MEDIA_EXT_TYPE = 1;

/**
 * One Media value as a whole extension, in parts (header and type, payload head, the bytes by
 * reference). The header is the one msgpackr chooses for an extension payload of that size
 * (fixext for 1, 2, 4, 8 or 16 bytes, else ext 8, 16 or 32), so the bytes are what the codec
 * always wrote.
 */
export function encodeMediaExt(media: Media): Buffer[] {
  const type = Buffer.from(media.contentType, 'utf8');
  const name = media.name === undefined ? undefined : Buffer.from(media.name, 'utf8');
  const bytes = media.bytes;
  const head = [Buffer.from([0x93]), strHeader(type.length), type];
  if (name === undefined) head.push(Buffer.from([0xc0]));
  else head.push(strHeader(name.length), name);
  head.push(binHeader(bytes.byteLength));
  const payloadHead = Buffer.concat(head);
  const body = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  return [extHeader(payloadHead.length + body.length), payloadHead, body];
}

/**
 * What is wrong with the Media payload in `bytes` from `start` to `end`, or undefined when it is
 * well formed (a non-empty content type, a name or nil, a bin, nothing after it).
 */
export function mediaPayloadProblem(
  bytes: Uint8Array,
  start: number,
  end: number,
): string | undefined {
  if (start >= end || bytes[start] !== 0x93) return 'the payload is not an array of 3';
  const reader = { at: start + 1, end };
  const type = strLength(bytes, reader);
  if (type === undefined) return 'the content type is not a string';
  if (type === 0) return 'the content type is empty';
  reader.at += type;
  if (bytes[reader.at] === 0xc0) reader.at++;
  else {
    const name = strLength(bytes, reader);
    if (name === undefined) return 'the name is neither a string nor nil';
    reader.at += name;
  }
  const size = binLength(bytes, reader);
  if (size === undefined) return 'the bytes are not a bin';
  if (reader.at + size !== end) return 'the payload does not end with the bytes';
  return undefined;
}

/**
 * The Media in a payload `mediaPayloadProblem` accepted; its bytes are a view of `bytes`
 * (no copy), as a Buffer.
 */
export function decodeMediaPayload(bytes: Uint8Array, start: number, end: number): Media {
  const buffer = Buffer.isBuffer(bytes)
    ? bytes
    : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const reader = { at: start + 1, end };
  const contentType = text(buffer, reader, strLength(buffer, reader));
  let name: string | undefined;
  if (buffer[reader.at] === 0xc0) reader.at++;
  else name = text(buffer, reader, strLength(buffer, reader));
  const size = binLength(buffer, reader) ?? 0;
  return new Media(contentType, buffer.subarray(reader.at, reader.at + size), name);
}

interface Reader {
  at: number;
  readonly end: number;
}

function text(buffer: Buffer, reader: Reader, length: number | undefined): string {
  const from = reader.at;
  reader.at += length ?? 0;
  return buffer.toString('utf8', from, reader.at);
}

/** A str header's length (the reader moves past the header), if it is one and the bytes follow. */
function strLength(bytes: Uint8Array, reader: Reader): number | undefined {
  const tag = bytes[reader.at];
  if (tag === undefined || reader.at >= reader.end) return undefined;
  if ((tag & 0xe0) === 0xa0) return checked(reader, 1, tag & 0x1f);
  if (tag === 0xd9) return header(bytes, reader, 1);
  if (tag === 0xda) return header(bytes, reader, 2);
  if (tag === 0xdb) return header(bytes, reader, 4);
  return undefined;
}

function binLength(bytes: Uint8Array, reader: Reader): number | undefined {
  const tag = bytes[reader.at];
  if (reader.at >= reader.end) return undefined;
  if (tag === 0xc4) return header(bytes, reader, 1);
  if (tag === 0xc5) return header(bytes, reader, 2);
  if (tag === 0xc6) return header(bytes, reader, 4);
  return undefined;
}

function header(bytes: Uint8Array, reader: Reader, size: 1 | 2 | 4): number | undefined {
  const at = reader.at + 1;
  if (at + size > reader.end) return undefined;
  let length = 0;
  for (let i = 0; i < size; i++) length = length * 0x100 + bytes[at + i]!;
  return checked(reader, 1 + size, length);
}

/** Moves past a header of `size` bytes when `length` bytes follow it within the payload. */
function checked(reader: Reader, size: number, length: number): number | undefined {
  if (reader.at + size + length > reader.end) return undefined;
  reader.at += size;
  return length;
}

function extHeader(length: number): Buffer {
  switch (length) {
    case 1:
      return Buffer.from([0xd4, MEDIA_EXT_TYPE]);
    case 2:
      return Buffer.from([0xd5, MEDIA_EXT_TYPE]);
    case 4:
      return Buffer.from([0xd6, MEDIA_EXT_TYPE]);
    case 8:
      return Buffer.from([0xd7, MEDIA_EXT_TYPE]);
    case 16:
      return Buffer.from([0xd8, MEDIA_EXT_TYPE]);
  }
  if (length < 0x100) return Buffer.from([0xc7, length, MEDIA_EXT_TYPE]);
  if (length < 0x10000) return Buffer.from([0xc8, length >> 8, length & 0xff, MEDIA_EXT_TYPE]);
  const header = Buffer.alloc(6);
  header[0] = 0xc9;
  header.writeUInt32BE(length, 1);
  header[5] = MEDIA_EXT_TYPE;
  return header;
}

function strHeader(length: number): Buffer {
  if (length < 32) return Buffer.from([0xa0 | length]);
  if (length < 0x100) return Buffer.from([0xd9, length]);
  if (length < 0x10000) return Buffer.from([0xda, length >> 8, length & 0xff]);
  const header = Buffer.alloc(5);
  header[0] = 0xdb;
  header.writeUInt32BE(length, 1);
  return header;
}

function binHeader(length: number): Buffer {
  if (length < 0x100) return Buffer.from([0xc4, length]);
  if (length < 0x10000) return Buffer.from([0xc5, length >> 8, length & 0xff]);
  const header = Buffer.alloc(5);
  header[0] = 0xc6;
  header.writeUInt32BE(length, 1);
  return header;
}
