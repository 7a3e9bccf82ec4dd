/** The token of an `Authorization: Bearer <token>` header, or undefined when it is not one. */
export function parseBearer(header: string): string | undefined {
  const match = /^Bearer\s+(\S+)\s*$/i.exec(header);
  return match?.[1];
}
