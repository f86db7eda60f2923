// `lsptap report [options] LOG...`: reads session logs (files, or stdin as `-` or when none
// are given), streams them line by line into the aggregate, and prints the report as text,
// JSON (--json) and/or a self-contained HTML page (--html FILE).

import fs from 'node:fs';
import { flag, parseCommand, printUsage, text, usageError, whole, type CommandSpec } from '../command/command-args';
import { ReportBuilder, type Report, type ReportFilters } from './aggregate';
import { readLogs } from './log-reader';
import { expandLogSources } from './log-sources';
import { formatReportText } from './format-text';
import { renderHtmlReport } from './html-report';

export const REPORT_COMMAND = {
  name: 'lsptap report',
  synopsis: ['lsptap report [options] [LOG...]'],
  about: 'Per method and direction: count, p50/p90/p99/max latency, kernel breakdown when the logs have it, and the slowest requests with their phases. LOG is a file, a directory (its *.jsonl files, not subdirectories) or "-" for stdin (also when no LOG is given).',
  positionals: true,
  splitAtDashes: false,
  options: {
    json: flag('print the report as one JSON document'),
    html: text('FILE', 'also write a self-contained HTML page (charts inlined) to FILE'),
    method: text('M', 'only method M'),
    since: text('T', 'only messages at or after T: an ISO date/time, or an age such as 7d, 12h, 30m'),
    until: text('T', 'only messages at or before T (same forms)'),
    slowest: whole('N', 10, 'list the N slowest requests (default 10)'),
  },
} as const satisfies CommandSpec;

const AGE = /^(\d+(?:\.\d+)?)(ms|s|m|h|d|w)$/;
const UNIT_MS: Record<string, number> = { ms: 1, s: 1e3, m: 60e3, h: 3600e3, d: 86400e3, w: 7 * 86400e3 };

/** An ISO date/time, or an age before now ("7d"), as epoch ms. */
export function parseTimeBound(name: string, v: string | undefined, nowMs: number): number | null {
  if (v === undefined) return null;
  const age = AGE.exec(v);
  if (age !== null) return nowMs - Number(age[1]) * UNIT_MS[age[2]];
  const t = Date.parse(v);
  if (Number.isNaN(t)) throw usageError(REPORT_COMMAND, `${name} needs an ISO date/time or an age like 7d, 12h, 30m; got ${JSON.stringify(v)}`);
  return t;
}

export interface ReportArgs { sources: string[]; json: boolean; html: string | null; filters: ReportFilters }

export function parseReportArgs(argv: string[], nowMs = Date.now()): ReportArgs | 'help' {
  const parsed = parseCommand(REPORT_COMMAND, argv);
  if (parsed.help) return 'help';
  const v = parsed.values;
  return {
    sources: parsed.positionals.length > 0 ? parsed.positionals : ['-'],
    json: v.json,
    html: v.html ?? null,
    filters: {
      method: v.method ?? null,
      sinceMs: parseTimeBound('--since', v.since, nowMs),
      untilMs: parseTimeBound('--until', v.until, nowMs),
      slowest: v.slowest,
    },
  };
}

/** Read and aggregate; corrupt lines are recorded with their line numbers and skipped. */
export async function buildReport(sources: string[], filters: ReportFilters): Promise<Report> {
  const builder = new ReportBuilder(filters);
  for await (const line of readLogs(sources)) {
    if (line.ok) builder.add(line.value, line.source, line.lineNo);
    else builder.addCorrupt({ source: line.source, lineNo: line.lineNo, reason: line.reason });
  }
  return builder.result();
}

/** The report as one JSON document (raw latencies left out: the HTML page uses them). */
export function reportJson(report: Report): string {
  const { latencies: _l, ...rest } = report;
  return JSON.stringify(rest, null, 2) + '\n';
}

export async function runReport(argv: string[]): Promise<number> {
  const args = parseReportArgs(argv);
  if (args === 'help') return printUsage(REPORT_COMMAND);
  if (args.sources.includes('-') && process.stdin.isTTY) throw usageError(REPORT_COMMAND, 'no LOG given and stdin is a terminal');
  const report = await buildReport(expandLogSources('report', args.sources), args.filters);
  if (args.json) {
    process.stdout.write(reportJson(report));
    for (const c of report.corrupt.slice(0, 20)) process.stderr.write(`lsptap report: skipped ${c.source}:${c.lineNo}: ${c.reason}\n`);
    if (report.corruptCount > 20) process.stderr.write(`lsptap report: ... and ${report.corruptCount - 20} more corrupt line(s)\n`);
  } else {
    process.stdout.write(formatReportText(report));
  }
  if (args.html !== null) {
    fs.writeFileSync(args.html, renderHtmlReport(report));
    process.stderr.write(`lsptap report: wrote ${args.html}\n`);
  }
  return 0;
}
