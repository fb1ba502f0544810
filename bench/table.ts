/**
 * Plain-text tables for the benchmark output: a title, aligned columns, notes.
 * Plain text (not console.table) so the output can be pasted into an issue as is.
 */

export interface Table {
  title: string;
  headers: string[];
  rows: string[][];
  /** Lines printed under the table: how a number was obtained, what a goal means. */
  notes?: string[];
}

/** A column is right-aligned when every cell in it reads as a number (or is empty / n/a). */
function isNumeric(cell: string): boolean {
  return cell === '' || cell === 'n/a' || cell === '-' || /^[~<>≤≥+-]?\$?\d/.test(cell);
}

export function formatTable(table: Table): string {
  const { headers, rows } = table;
  const widths = headers.map((header, i) =>
    Math.max(header.length, ...rows.map((row) => (row[i] ?? '').length)),
  );
  const right = headers.map((_, i) => rows.length > 0 && rows.every((row) => isNumeric(row[i] ?? '')));
  const line = (cells: string[]): string =>
    cells
      .map((cell, i) => {
        const width = widths[i] ?? 0;
        return right[i] ? cell.padStart(width) : cell.padEnd(width);
      })
      .join('  ')
      .trimEnd();
  const out = [
    `== ${table.title} ==`,
    line(headers),
    widths.map((w) => '-'.repeat(w)).join('  '),
    ...rows.map((row) => line(headers.map((_, i) => row[i] ?? ''))),
  ];
  for (const note of table.notes ?? []) out.push(`  ${note}`);
  return `${out.join('\n')}\n`;
}

export function printTable(table: Table): void {
  console.log(formatTable(table));
}

export const passFail = (ok: boolean): string => (ok ? 'PASS' : 'FAIL');

export function fixed(value: number | null | undefined, digits: number): string {
  return value === null || value === undefined || !Number.isFinite(value) ? 'n/a' : value.toFixed(digits);
}

export function seconds(ms: number, digits = 1): string {
  return `${(ms / 1000).toFixed(digits)} s`;
}
