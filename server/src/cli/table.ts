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

/** A timestamp (ms) as ISO 8601, or `fallback` for none. */
export function isoOr(at: number | null, fallback: string): string {
  return at === null ? fallback : new Date(at).toISOString();
}
