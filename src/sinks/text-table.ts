// Figures for people, said one way everywhere lsptap prints them (--summary, report, diff,
// top, and the HTML pages): milliseconds with 2 decimals under 10, 1 under 1000, whole
// above; and the aligned plain-text table they sit in.

/** ms as lsptap prints them: `0.42`, `61.1`, `1172`; `-` when there is no figure. */
export function formatMs(x: number | null | undefined): string {
  return x === null || x === undefined ? '-' : x < 10 ? x.toFixed(2) : x < 1000 ? x.toFixed(1) : x.toFixed(0);
}

/**
 * A table for a terminal: a header, a rule of dashes, the rows; columns two spaces apart,
 * those in `left` (names) left-aligned, the rest (figures) right-aligned; trailing spaces cut.
 */
export function renderTable(head: readonly string[], body: readonly (readonly string[])[], left: ReadonlySet<number>): string {
  // A loop, not Math.max(...column): a spread passes one argument per row and overflows the stack at ~100k rows.
  const widths = head.map((h) => h.length);
  for (const row of body) for (let i = 0; i < widths.length; i++) if (row[i].length > widths[i]) widths[i] = row[i].length;
  const line = (cells: readonly string[]): string => cells.map((c, i) => (left.has(i) ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join('  ').trimEnd();
  return [line(head), line(widths.map((w) => '-'.repeat(w))), ...body.map(line)].join('\n') + '\n';
}
