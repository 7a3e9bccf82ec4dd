/** Rows as left-aligned columns two spaces apart, one line each (trailing spaces trimmed). */
export function table(rows: readonly (readonly string[])[]): string {
  if (rows.length === 0) return '';
  const widths = rows[0]!.map((_, column) =>
    Math.max(...rows.map((row) => (row[column] ?? '').length)),
  );
  return rows
    .map(
      (row) =>
        row
          .map((cell, column) => cell.padEnd(widths[column]!))
          .join('  ')
          .trimEnd() + '\n',
    )
    .join('');
}

/** What `tokenTable` shows of a token (admin tokens and user API tokens alike). */
interface TokenRow {
  id: string;
  name: string;
  createdAt: number;
  lastUsedAt: number | null;
  revokedAt: number | null;
}

/** Tokens as a table: id, name, created, last used, state (never the secret). */
export function tokenTable(tokens: readonly TokenRow[]): string {
  const rows = tokens.map((token) => [
    token.id,
    token.name,
    isoOr(token.createdAt, ''),
    isoOr(token.lastUsedAt, 'never'),
    token.revokedAt === null ? 'active' : `revoked ${isoOr(token.revokedAt, '')}`,
  ]);
  return table([['id', 'name', 'created', 'last used', 'state'], ...rows]);
}

/** A timestamp (ms) as ISO 8601, or `fallback` for none. */
export function isoOr(at: number | null, fallback: string): string {
  return at === null ? fallback : new Date(at).toISOString();
}
