// `npm run bench -- --write-docs`: the budget lines, dated, as the one table of current
// figures in docs/benchmarks.md, between its bench-table markers (the rest of the file is
// left as it is).

import fs from 'node:fs';
import path from 'node:path';
import { REPO_ROOT } from './modes';
import type { BudgetLine } from './report';

export const DOCS_FILE = path.join(REPO_ROOT, 'docs', 'benchmarks.md');
const START = '<!-- bench-table:start -->';
const END = '<!-- bench-table:end -->';

function value(b: BudgetLine): string {
  if (b.value === null) return '–';
  const a = Math.abs(b.value);
  return b.value.toFixed(a >= 100 ? 0 : a >= 10 ? 1 : a >= 1 ? 2 : 3);
}

/** The table and the sentence saying when, where and with what command it was measured. */
export function formatDocsTable(budgets: BudgetLine[], date: string, machine: string, args: string): string {
  const rows = budgets.map((b) => `| ${b.budget} | ${value(b)} | ${b.limit} | ${b.verdict}${b.note === null ? '' : ` (${b.note})`} |`);
  return [
    `Measured ${date} on ${machine}, with \`npm run bench --${args === '' ? '' : ` ${args}`}\`; medians over the repeats.`,
    '',
    '| figure | measured | budget | verdict |',
    '|---|---|---|---|',
    ...rows,
  ].join('\n');
}

/** Replace what stands between the markers; throws when the file or its markers are missing. */
export function writeDocsTable(file: string, table: string): void {
  const text = fs.readFileSync(file, 'utf8');
  const a = text.indexOf(START), b = text.indexOf(END);
  if (a < 0 || b < a) throw new Error(`${file} has no ${START} ... ${END} markers`);
  fs.writeFileSync(file, `${text.slice(0, a + START.length)}\n${table}\n${text.slice(b)}`);
}
