import { SwitchboardError } from '../errors/switchboard-error.ts';
import { Media } from '../values/media.ts';

/**
 * The payload of the Media extension: the MessagePack array `[contentType, name | nil, bin]`,
 * written and read by hand so it is plain MessagePack whatever the main codec does, and so
 * packing it never re-enters the main packer.
 */
export function packMedia(media: Media): Buffer {
  const type = Buffer.from(media.contentType, 'utf8');
  const name = media.name === undefined ? undefined : Buffer.from(media.name, 'utf8');
  const bytes = media.bytes;
  const parts: Buffer[] = [Buffer.from([0x93]), strHeader(type.length), type];
  if (name === undefined) parts.push(Buffer.from([0xc0]));
  else parts.push(strHeader(name.length), name);
  parts.push(
    binHeader(bytes.byteLength),
    Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength),
  );
  return Buffer.concat(parts);
}

export function unpackMedia(data: Uint8Array): Media {
  const buf = Buffer.from(data.buffer, data.byteOffset, data.byteLength);
  if (buf[0] !== 0x93) throw bad();
  const reader = { at: 1 };
  const contentType = readStr(buf, reader);
  let name: string | undefined;
  if (buf[reader.at] === 0xc0) reader.at++;
  else name = readStr(buf, reader);
  const bytes = readBin(buf, reader);
  if (reader.at !== buf.length || contentType === '') throw bad();
  return new Media(contentType, bytes, name);
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

function readStr(buf: Buffer, reader: { at: number }): string {
  const tag = buf[reader.at++];
  let length: number;
  if (tag === undefined) throw bad();
  if ((tag & 0xe0) === 0xa0) length = tag & 0x1f;
  else if (tag === 0xd9) length = readLength(buf, reader, 1);
  else if (tag === 0xda) length = readLength(buf, reader, 2);
  else if (tag === 0xdb) length = readLength(buf, reader, 4);
  else throw bad();
  return take(buf, reader, length).toString('utf8');
}

function readBin(buf: Buffer, reader: { at: number }): Uint8Array {
  const tag = buf[reader.at++];
  const size = tag === 0xc4 ? 1 : tag === 0xc5 ? 2 : tag === 0xc6 ? 4 : 0;
  if (size === 0) throw bad();
  return take(buf, reader, readLength(buf, reader, size));
}

function readLength(buf: Buffer, reader: { at: number }, size: 1 | 2 | 4): number {
  if (reader.at + size > buf.length) throw bad();
  const length = buf.readUIntBE(reader.at, size);
  reader.at += size;
  return length;
}

function take(buf: Buffer, reader: { at: number }, length: number): Buffer {
  if (reader.at + length > buf.length) throw bad();
  const slice = buf.subarray(reader.at, reader.at + length);
  reader.at += length;
  return slice;
}

function bad(): SwitchboardError {
  return new SwitchboardError('SB_ERR_PROTO_BAD_FRAME', 'Malformed Media extension value');
}
