import { jsonReplacer } from '@switchboard/shared';

/**
 * JSON form of a function's result for HTTP RPC callers that did not ask for MessagePack:
 * undefined → null, BigInt → decimal string, bytes → base64, Date → ISO string,
 * Media → {contentType, name, base64}. MessagePack keeps every type exactly.
 */
export function toJson(value: unknown): string {
  return JSON.stringify(value === undefined ? null : value, jsonReplacer) ?? 'null';
}
