// `lsptap report` for people: the per-method table (the same formatter as --summary), the
// kernel breakdown as p50/p99 per part when the logs carry kernel timing, then the slowest
// requests with their phases.

import { formatSummaryTable } from '../sinks/summary';
import type { Report, SlowRequest } from './aggregate';

/** Columns listed in `left` are left-aligned, the rest (numbers) right-aligned. */
function table(head: string[], body: string[][], left: number[]): string {
  // A loop, not Math.max(...column): a spread passes one argument per row and overflows the stack at ~100k rows.
  const widths = head.map((h) => h.length);
  for (const row of body) for (let i = 0; i < widths.length; i++) if (row[i].length > widths[i]) widths[i] = row[i].length;
  const line = (cells: string[]): string => cells.map((c, i) => (left.includes(i) ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join('  ').trimEnd();
  return [line(head), line(widths.map((w) => '-'.repeat(w))), ...body.map(line)].join('\n') + '\n';
}

const us = (x: number | null | undefined): string => (x === null || x === undefined ? '-' : x < 100 ? x.toFixed(1) : x.toFixed(0));

/** Kernel time parts (µs) with at least one measured value (a part that is always null is left out). */
export function kernelParts(report: Report): string[] {
  const parts = new Set<string>();
  for (const r of report.methods) for (const p of Object.keys(r.kernel ?? {})) if (p.endsWith('Us')) parts.add(p);
  for (const s of report.slowest) for (const [p, v] of Object.entries(s.kernel ?? {})) if (typeof v === 'number' && p.endsWith('Us')) parts.add(p);
  return [...parts];
}

function phasesText(s: SlowRequest): string {
  if (s.phases.length === 0) return '(request line not in the log)';
  return s.phases.map((p) => `${p.name} ${(p.endMs - p.startMs).toFixed(3)}`).join(', ');
}

/** The summary table with a note column on the rows that have requests left unanswered when their log ended. */
function withUnanswered(summaryTable: string, report: Report): string {
  if (report.unanswered.length === 0) return summaryTable;
  const lines = summaryTable.trimEnd().split('\n');
  let width = 0;
  for (const l of lines) if (l.length > width) width = l.length;
  const note = (i: number): string => {
    const n = report.methods[i].unanswered;
    return n > 0 ? `${n} unanswered (log ended)` : '';
  };
  return [
    `${lines[0].padEnd(width)}  note`,
    `${lines[1].padEnd(width)}  ----`,
    ...lines.slice(2).map((l, i) => `${l.padEnd(width)}  ${note(i)}`.trimEnd()),
  ].join('\n') + '\n';
}

export function formatReportText(report: Report): string {
  const out: string[] = [];
  const corrupt = report.corruptCount > 0 ? `, ${report.corruptCount} corrupt line(s) skipped` : '';
  out.push(`lsptap report: ${report.sources.length} log(s), ${report.sessions} session(s), ${report.messages} message(s)${corrupt}\n`);
  for (const c of report.corrupt.slice(0, 20)) out.push(`  skipped ${c.source}:${c.lineNo}: ${c.reason}\n`);
  if (report.corruptCount > 20) out.push(`  ... and ${report.corruptCount - 20} more\n`);
  const rejected = report.rejected.reduce((n, r) => n + r.count, 0);
  if (rejected > 0) {
    out.push(`  ${rejected} response(s) with a bad latency left out: ${report.rejected.map((r) => `${r.count} ${r.reason} (first at ${r.first})`).join(', ')}\n`);
  }
  out.push('\nlatency per method (ms; dir is the request\'s direction)\n');
  // The summary formatter's kernel columns show p50 only; the report has its own table below.
  out.push(withUnanswered(formatSummaryTable(report.methods.map(({ kernel: _k, unanswered: _u, ...row }) => row)), report));

  const parts = kernelParts(report);
  if (parts.length > 0) {
    out.push('\nkernel breakdown (µs, p50 / p99)\n');
    const rows = report.methods.filter((r) => r.kernel !== undefined);
    out.push(table(['dir', 'method', ...parts], rows.map((r) => [r.dir, r.method, ...parts.map((p) => {
      const s = r.kernel?.[p];
      return s === undefined ? '-' : `${us(s.p50)} / ${us(s.p99)}`;
    })]), [0, 1]));
  }

  if (report.unanswered.length > 0) {
    out.push(`\n${report.unanswered.length} request(s) unanswered (log ended: no \`session end\`, lsptap was killed or the log cut)\n`);
    out.push(table(
      ['dir', 'method', 'id', 'when', 'where', 'waited ms (at least)'],
      report.unanswered.map((u) => [u.dir, u.method, String(u.id), new Date(u.time).toISOString(), `${u.source}:${u.lineNo}`, u.waitedAtLeastMs.toFixed(0)]),
      [0, 1, 2, 3, 4],
    ));
  }

  if (report.slowest.length > 0) {
    out.push(`\nslowest ${report.slowest.length} request(s)\n`);
    out.push(table(
      ['ms', 'dir', 'method', 'id', 'when', 'where', 'phases (ms)', ...parts.map((p) => `${p}`)],
      report.slowest.map((s) => [
        s.latencyMs.toFixed(3), s.dir, s.method + (s.isError ? ' (error)' : ''), String(s.id), new Date(s.time).toISOString(),
        `${s.source}:${s.lineNo}`, phasesText(s), ...parts.map((p) => us(s.kernel?.[p])),
      ]),
      [1, 2, 3, 4, 5, 6],
    ));
    const explained = report.slowest.map((s) => s.explained).filter((e): e is string => e !== null);
    if (explained.length > 0) out.push(`\nwhere their server time went\n${explained.join('\n')}\n`);
  }
  return out.join('');
}
