/** The token of an `Authorization: Bearer <token>` header, or undefined when it is not one. */
export function parseBearer(header: string): string | undefined {
  const match = /^Bearer\s+(\S+)\s*$/i.exec(header);
  return match?.[1];
}

/** The token of an `Authorization: Token <token>` header, or undefined when it is not one. */
export function parseTokenHeader(header: string | undefined): string | undefined {
  if (header === undefined) return undefined;
  return /^Token\s+(\S+)\s*$/i.exec(header)?.[1];
}
