// `lsptap report [options] LOG...`: reads session logs (files, or stdin as `-` or when none
// are given), streams them line by line into the aggregate, and prints the report as text,
// JSON (--json), a self-contained HTML page (--html FILE) and/or a Trace Event file
// (--trace FILE); --redact replaces private paths in all of them (redaction.ts).

import fs from 'node:fs';
import os from 'node:os';
import { flag, parseCommand, printUsage, text, usageError, whole, type CommandSpec } from '../command/command-args';
import { ReportBuilder, type Report, type ReportFilters } from './aggregate';
import { parseLine, readLineBatches } from './log-reader';
import { expandLogSources } from './log-sources';
import { formatReportText } from './format-text';
import { renderHtmlReport } from './html-report';
import { RequestProfiles } from './request-profiles';
import { SessionFactsBuilder, type SessionFacts } from './session-facts';
import { TimelineBuilder, type Timeline } from './session-timeline';
import { traceEventsOf } from './trace-events';
import { Redactor, redactionRoots } from '../model/redaction';
import { SVG_MAX_NOTIFICATIONS, SVG_MAX_REQUESTS } from './timeline-svg';

export const REPORT_COMMAND = {
  name: 'lsptap report',
  synopsis: ['lsptap report [options] [LOG...]'],
  about: 'Per method and direction: count, p50/p90/p99/max latency, kernel breakdown when the logs have it, and the slowest requests with their phases. LOG is a file, a directory (its *.jsonl files, not subdirectories) or "-" for stdin (also when no LOG is given).',
  positionals: true,
  splitAtDashes: false,
  options: {
    json: flag('print the report as one JSON document'),
    html: text('FILE', 'also write a self-contained HTML page (the answer first) to FILE'),
    trace: text('FILE', "also write the sessions' timeline in the Trace Event Format (JSON) to FILE, for Perfetto (ui.perfetto.dev) or chrome://tracing"),
    redact: flag('replace paths and file: URIs under the workspace and home directories with placeholders (<workspace>/a1.go) in every output, and leave out bodies'),
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

export interface ReportArgs { sources: string[]; json: boolean; html: string | null; trace: string | null; redact: boolean; filters: ReportFilters }

export function parseReportArgs(argv: string[], nowMs = Date.now()): ReportArgs | 'help' {
  const parsed = parseCommand(REPORT_COMMAND, argv);
  if (parsed.help) return 'help';
  const v = parsed.values;
  return {
    sources: parsed.positionals.length > 0 ? parsed.positionals : ['-'],
    json: v.json,
    html: v.html ?? null,
    trace: v.trace ?? null,
    redact: v.redact,
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
  return (await buildReportViews(sources, filters, 0)).report;
}

export interface ReportViews { report: Report; sessions: SessionFacts[]; timeline: Timeline }

/**
 * The report, each session's facts and the timeline, in one pass over the logs. The
 * timeline keeps timelineMax requests (the longest), or all when null (--trace).
 */
/**
 * profileFields, when given, gets each source's `session end` profileFile fields, so that
 * the HTML page finds the profiles without reading the logs again.
 */
export async function buildReportViews(sources: string[], filters: ReportFilters, timelineMax: number | null, profileFields: Map<string, string[]> | null = null): Promise<ReportViews> {
  // The HTML page draws the earliest SVG_MAX_NOTIFICATIONS notifications; --trace has them all.
  const timeline = new TimelineBuilder(filters, timelineMax, timelineMax === null ? null : SVG_MAX_NOTIFICATIONS);
  const builder = new ReportBuilder(filters, timelineMax === 0 ? null : timeline);
  const facts = new SessionFactsBuilder();
  // A chunk's lines at a time, not an await per line.
  for (const source of sources) {
    for await (const batch of readLineBatches(source)) {
      for (const { text, lineNo } of batch) {
        if (text.length === 0 || text.trim().length === 0) continue;
        const p = parseLine(text);
        if ('value' in p) {
          builder.add(p.value, source, lineNo);
          facts.add(p.value, source);
          timeline.addLine(p.value, source);
          if (profileFields !== null && p.value.msg === 'session end' && typeof p.value.profileFile === 'string') {
            const named = profileFields.get(source) ?? [];
            if (!named.includes(p.value.profileFile)) named.push(p.value.profileFile);
            profileFields.set(source, named);
          }
        } else {
          builder.addCorrupt({ source, lineNo, reason: p.reason });
        }
      }
    }
  }
  return { report: builder.result(), sessions: facts.result(), timeline: timeline.result() };
}

/** The views with every path under the sessions' workspaces and the home directory replaced, and what was removed. */
export function redactViews(views: ReportViews, home: string | null = os.homedir()): { views: ReportViews; removed: string[] } {
  const roots = redactionRoots({ workspaces: views.sessions.flatMap((s) => [s.workspace, s.cwd]), home });
  const r = new Redactor(roots);
  const redacted = r.value(views);
  return { views: redacted, removed: r.removed() };
}

/** The report as one JSON document (raw latencies left out: the HTML page uses them). */
export function reportJson(report: Report, redacted: string[] | null = null): string {
  const { latencies: _l, ...rest } = report;
  return JSON.stringify(redacted === null ? rest : { redacted, ...rest }, null, 2) + '\n';
}

export async function runReport(argv: string[]): Promise<number> {
  const args = parseReportArgs(argv);
  if (args === 'help') return printUsage(REPORT_COMMAND);
  if (args.sources.includes('-') && process.stdin.isTTY) throw usageError(REPORT_COMMAND, 'no LOG given and stdin is a terminal');
  const wanted = args.trace !== null ? null : args.html !== null ? SVG_MAX_REQUESTS : 0;
  const sources = expandLogSources('report', args.sources);
  const profileFields = args.html !== null ? new Map<string, string[]>() : null;
  let views = await buildReportViews(sources, args.filters, wanted, profileFields);
  let removed: string[] | null = null;
  if (args.redact) ({ views, removed } = redactViews(views));
  const report = views.report;
  if (removed !== null) process.stderr.write(`lsptap report: redacted: ${removed.join('; ')}\n`);
  if (args.json) {
    process.stdout.write(reportJson(report, removed));
    for (const c of report.corrupt.slice(0, 20)) process.stderr.write(`lsptap report: skipped ${c.source}:${c.lineNo}: ${c.reason}\n`);
    if (report.corruptCount > 20) process.stderr.write(`lsptap report: ... and ${report.corruptCount - 20} more corrupt line(s)\n`);
  } else {
    process.stdout.write((removed === null ? '' : `redacted for sharing: ${removed.join('; ')}\n\n`) + formatReportText(report));
  }
  if (args.html !== null) {
    // Each slow request's profile (flame graph, top functions) from the profile files the
    // logs name. Kept under --redact: frames are named by function, never by file path.
    const profiles = await RequestProfiles.load(sources, profileFields);
    fs.writeFileSync(args.html, renderHtmlReport({ report, sessions: views.sessions, timeline: views.timeline, redacted: removed }, { profileOf: (s) => profiles.htmlFor(s) }));
    process.stderr.write(`lsptap report: wrote ${args.html}\n`);
  }
  if (args.trace !== null) {
    const labels = new Map(views.sessions.map((s) => [`${s.source}\u0000${s.session}`, { server: s.serverName, workspace: s.workspace }]));
    const trace = traceEventsOf(views.timeline, (source, session) => labels.get(`${source}\u0000${session}`) ?? { server: null, workspace: null }, removed === null ? {} : { redacted: removed });
    fs.writeFileSync(args.trace, JSON.stringify(trace) + '\n');
    process.stderr.write(`lsptap report: wrote ${args.trace} (${trace.traceEvents.length} trace events)\n`);
  }
  return 0;
}
