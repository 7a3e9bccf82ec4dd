import { Media } from '@switchboard/shared';

/**
 * JSON form of a function's result for HTTP callers that did not ask for MessagePack:
 * undefined → null, BigInt → decimal string, bytes → base64 string, Date → ISO string,
 * Media → {contentType, name, base64}. MessagePack keeps every type exactly.
 */
export function toJson(value: unknown): string {
  return JSON.stringify(value === undefined ? null : value, replacer) ?? 'null';
}

function replacer(this: unknown, key: string, value: unknown): unknown {
  // `this[key]` is the value before toJSON() ran (Buffer.toJSON would give {type, data}).
  const raw = (this as Record<string, unknown>)[key];
  if (typeof raw === 'bigint') return raw.toString();
  if (raw instanceof Uint8Array)
    return Buffer.from(raw.buffer, raw.byteOffset, raw.byteLength).toString('base64');
  if (raw instanceof Media) {
    return {
      contentType: raw.contentType,
      name: raw.name ?? null,
      base64: Buffer.from(raw.bytes).toString('base64'),
    };
  }
  return value;
}
