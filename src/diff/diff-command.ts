// `lsptap diff [options] A... -- B...`: reads two sets of session logs, aggregates each as
// `lsptap report` does, and compares them per method and direction.

import fs from 'node:fs';
import { flag, parseCommand, printUsage, text, usageError, type CommandSpec } from '../command/command-args';
import { ReportBuilder, type Report } from '../report/aggregate';
import { readLogs } from '../report/log-reader';
import { expandLogSources } from '../report/log-sources';
import { compareReports, type Comparison } from './compare';
import { formatDiffText } from './format-diff';
import { renderDiffHtml } from './diff-html';

export const DIFF_COMMAND = {
  name: 'lsptap diff',
  synopsis: ['lsptap diff [options] A.jsonl... -- B.jsonl...'],
  about: 'Per method and direction: count, p50 and p99 on each side, the ratio of the medians (B/A), its 95% bootstrap interval, and a verdict only where that interval leaves out 1. Each side is files or directories (their *.jsonl files, not subdirectories).',
  positionals: true,
  splitAtDashes: true,
  options: {
    json: flag('print the comparison as one JSON document'),
    html: text('FILE', 'also write a self-contained HTML page to FILE'),
    method: text('M', 'only method M'),
  },
} as const satisfies CommandSpec;

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
  const parsed = parseCommand(DIFF_COMMAND, argv);
  if (parsed.help) return printUsage(DIFF_COMMAND);
  if (parsed.afterDashes === null) throw usageError(DIFF_COMMAND, 'put -- between the two sides');
  const a = parsed.positionals;
  const b = parsed.afterDashes;
  if (a.length === 0 || b.length === 0) throw usageError(DIFF_COMMAND, 'each side needs at least one log');
  const method = parsed.values.method ?? null;
  const comparison = compareReports(await loadSide(expandLogSources('diff', a), method), await loadSide(expandLogSources('diff', b), method));
  process.stdout.write(parsed.values.json ? comparisonJson(comparison) : formatDiffText(comparison));
  if (parsed.values.html !== undefined) {
    fs.writeFileSync(parsed.values.html, renderDiffHtml(comparison));
    process.stderr.write(`lsptap diff: wrote ${parsed.values.html}\n`);
  }
  return 0;
}
