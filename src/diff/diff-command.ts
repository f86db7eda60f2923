// `lsptap diff [options] A... -- B...`: reads two sets of session logs, aggregates each as
// `lsptap report` does, and compares them per method and direction.

import fs from 'node:fs';
import { parseArgs } from 'node:util';
import { ReportBuilder, type Report } from '../report/aggregate';
import { readLogs } from '../report/log-reader';
import { expandLogSources } from '../report/log-sources';
import { ReportUsageError } from '../model/errors';
import { compareReports, type Comparison } from './compare';
import { formatDiffText } from './format-diff';
import { renderDiffHtml } from './diff-html';

export const DIFF_USAGE = `usage: lsptap diff [options] A.jsonl... -- B.jsonl...

Per method and direction: count, p50 and p99 on each side, the ratio of the medians (B/A),
its 95% bootstrap interval, and a verdict only where that interval leaves out 1. Each side
is files or directories (their *.jsonl files, not subdirectories).

options:
  --json             print the comparison as one JSON document
  --html FILE        also write a self-contained HTML page to FILE
  --method M         only method M
`;

/** Aggregate the message lines of `sources`; with `session`, only that session's lines. */
export async function loadSide(sources: string[], method: string | null, session: string | null = null): Promise<Report> {
  const builder = new ReportBuilder({ method, sinceMs: null, untilMs: null, slowest: 0 });
  for await (const line of readLogs(sources)) {
    if (!line.ok) builder.addCorrupt({ source: line.source, lineNo: line.lineNo, reason: line.reason });
    else if (session === null || line.value.session === session) builder.add(line.value, line.source, line.lineNo);
  }
  return builder.result();
}

export function comparisonJson(c: Comparison): string {
  return JSON.stringify(c, (_k, v: unknown) => (v === Infinity ? 'Infinity' : v), 2) + '\n';
}

export async function runDiff(argv: string[]): Promise<number> {
  if (argv.includes('--help') || argv.includes('-h')) { process.stdout.write(DIFF_USAGE); return 0; }
  const dd = argv.indexOf('--');
  if (dd < 0) throw new ReportUsageError(`lsptap diff: put -- between the two sides\n\n${DIFF_USAGE}`);
  let parsed;
  try {
    parsed = parseArgs({
      args: argv.slice(0, dd), allowPositionals: true, strict: true,
      options: { json: { type: 'boolean', default: false }, html: { type: 'string' }, method: { type: 'string' } },
    });
  } catch (err) {
    throw new ReportUsageError(`lsptap diff: ${(err as Error).message}\n\n${DIFF_USAGE}`);
  }
  const a = parsed.positionals;
  const b = argv.slice(dd + 1);
  if (a.length === 0 || b.length === 0) throw new ReportUsageError(`lsptap diff: each side needs at least one log\n\n${DIFF_USAGE}`);
  const method = parsed.values.method ?? null;
  const comparison = compareReports(await loadSide(expandLogSources('diff', a), method), await loadSide(expandLogSources('diff', b), method));
  process.stdout.write(parsed.values.json === true ? comparisonJson(comparison) : formatDiffText(comparison));
  if (parsed.values.html !== undefined) {
    fs.writeFileSync(parsed.values.html, renderDiffHtml(comparison));
    process.stderr.write(`lsptap diff: wrote ${parsed.values.html}\n`);
  }
  return 0;
}
