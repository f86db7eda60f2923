// `lsptap diff` for people: one aligned table, requests first, the largest change first.

import type { Comparison, DiffRow, SideInfo, Verdict } from './compare';
import { MIN_SAMPLES } from './bootstrap';

export const VERDICT_TEXT: Record<Verdict, string> = {
  slower: 'B slower', faster: 'B faster', same: 'within noise', few: `too few (<${MIN_SAMPLES})`,
  onlyA: 'only in A', onlyB: 'only in B', notification: '',
};

const ms = (x: number | null | undefined): string => (x === null || x === undefined ? '-' : x < 10 ? x.toFixed(2) : x < 1000 ? x.toFixed(1) : x.toFixed(0));
const times = (x: number | null): string => (x === null ? '-' : !Number.isFinite(x) ? 'inf' : x < 10 ? `${x.toFixed(2)}x` : `${x.toFixed(0)}x`);

export function intervalText(r: DiffRow): string {
  return r.interval === null ? '-' : `${times(r.interval.low)}..${times(r.interval.high)}`;
}

function sideText(name: string, s: SideInfo): string {
  const corrupt = s.corruptLines > 0 ? `, ${s.corruptLines} corrupt line(s) skipped` : '';
  const rejected = s.rejectedLatencies > 0 ? `, ${s.rejectedLatencies} bad latency value(s) left out` : '';
  return `${name} = ${s.sources.length} log(s), ${s.sessions} session(s), ${s.messages} message(s)${corrupt}${rejected}`;
}

export function formatDiffText(c: Comparison): string {
  const head = ['dir', 'method', 'A n', 'A p50', 'A p99', 'B n', 'B p50', 'B p99', 'B/A p50', '95% interval', 'verdict'];
  const body = c.rows.map((r) => [
    r.dir, r.method,
    r.a === null ? '-' : String(r.kind === 'request' ? r.a.answered : r.a.count), ms(r.a?.p50Ms), ms(r.a?.p99Ms),
    r.b === null ? '-' : String(r.kind === 'request' ? r.b.answered : r.b.count), ms(r.b?.p50Ms), ms(r.b?.p99Ms),
    times(r.ratio), intervalText(r), VERDICT_TEXT[r.verdict],
  ]);
  // A loop, not Math.max(...column): a spread passes one argument per row and overflows the stack at ~100k rows.
  const widths = head.map((h) => h.length);
  for (const row of body) for (let i = 0; i < widths.length; i++) if (row[i].length > widths[i]) widths[i] = row[i].length;
  const left = new Set([0, 1, 9, 10]);
  const line = (cells: string[]): string => cells.map((x, i) => (left.has(i) ? x.padEnd(widths[i]) : x.padStart(widths[i]))).join('  ').trimEnd();
  return [
    `lsptap diff: ${sideText('A', c.a)}; ${sideText('B', c.b)}`,
    `latencies in ms; n is answered requests (notifications: messages); dir is the request's direction`,
    `verdict: ${c.method}`,
    '',
    line(head), line(widths.map((w) => '-'.repeat(w))), ...body.map(line),
  ].join('\n') + '\n';
}
