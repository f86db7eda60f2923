// `lsptap report` and `lsptap diff` on inputs no session writes but people and scripts do:
// a million distinct methods, a directory of logs, latencies that are negative, huge or not
// numbers at all. The lines come from a real gopls session log (test/fixtures/logs), edited.

import test from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { spawnSync } from 'node:child_process';
import { lsptapBin, repoRoot } from './helpers/index';
import { formatSummaryTable, type MethodStats } from '../src/sinks/summary';
import { formatReportText } from '../src/report/format-text';
import { formatDiffText } from '../src/diff/format-diff';
import { ReportBuilder, type Report, type ReportRow } from '../src/report/aggregate';
import type { Comparison, DiffRow } from '../src/diff/compare';
import { TimelineBuilder } from '../src/report/session-timeline';
import { SVG_MAX_NOTIFICATIONS, SVG_MAX_REQUESTS, sessionTimelineSvg } from '../src/report/timeline-svg';
import { seededRandom } from '../src/diff/bootstrap';

const SEED = path.join(repoRoot, 'test', 'fixtures', 'logs', 'gopls-demo.jsonl');
const seedLines = (): Record<string, unknown>[] => fs.readFileSync(SEED, 'utf8').split('\n').filter((l) => l.length > 0).map((l) => JSON.parse(l) as Record<string, unknown>);

function tmp(t: { after: (f: () => void) => void }): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'lsptap-report-inputs-'));
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
  return dir;
}

function run(cmd: string, args: string[]): { stdout: string; stderr: string; status: number | null } {
  const r = spawnSync(process.execPath, [lsptapBin, cmd, ...args], { encoding: 'utf8', maxBuffer: 1 << 28 });
  return { stdout: r.stdout, stderr: r.stderr, status: r.status };
}

const MANY = 1_000_000;

function manyRows(): ReportRow[] {
  const rows: ReportRow[] = [];
  for (let i = 0; i < MANY; i++) {
    rows.push({ dir: 'c2s', method: `m/${i}`, kind: 'request', count: 1, answered: 1, errors: 0, cancelled: 0, p50Ms: 1, p90Ms: 1, p99Ms: 1, maxMs: 1, unanswered: i === 0 ? 1 : 0 });
  }
  return rows;
}

test('the summary, report and diff tables align 1,000,000 methods without running out of stack', () => {
  const rows = manyRows();
  const table = formatSummaryTable(rows as MethodStats[]);
  assert.equal(table.split('\n').length, MANY + 3);
  const report: Report = {
    sources: ['a.jsonl'], sessions: 1, messages: MANY, corrupt: [], corruptCount: 0, rejected: [], filters: { method: null, sinceMs: null, untilMs: null, slowest: 0 },
    methods: rows, slowest: [], latencies: {},
    unanswered: [{ dir: 'c2s', method: 'm/0', id: 1, session: 's', source: 'a.jsonl', lineNo: 1, time: 0, waitedAtLeastMs: 1, reason: 'log ended' }],
  };
  const text = formatReportText(report);
  assert.match(text, /m\/0 .* 1 unanswered \(log ended\)/);
  const side = { count: 1, answered: 1, errors: 0, p50Ms: 1, p99Ms: 1 };
  const diffRows: DiffRow[] = rows.map((r) => ({ dir: r.dir, method: r.method, kind: 'request', a: side, b: side, ratio: 1, interval: null, verdict: 'few' }));
  const c: Comparison = { a: { sources: [], sessions: 1, messages: 1, corruptLines: 0, rejectedLatencies: 0 }, b: { sources: [], sessions: 1, messages: 1, corruptLines: 0, rejectedLatencies: 0 }, method: '', rows: diffRows };
  assert.equal(formatDiffText(c).split('\n').length, MANY + 7);
});

test('report, diff and top read every *.jsonl of a directory given as LOG (not its subdirectories)', (t) => {
  const dir = tmp(t);
  const lines = seedLines();
  const text = lines.map((l) => JSON.stringify(l)).join('\n') + '\n';
  fs.writeFileSync(path.join(dir, 'lsptap-1.jsonl'), text);
  fs.writeFileSync(path.join(dir, 'lsptap-2.jsonl'), text.replaceAll(`"session":"${String(lines[0].session)}"`, '"session":"other"'));
  fs.writeFileSync(path.join(dir, 'notes.txt'), 'not a log\n');
  fs.mkdirSync(path.join(dir, 'old'));
  fs.writeFileSync(path.join(dir, 'old', 'lsptap-0.jsonl'), text);
  const responses = lines.filter((l) => l.msg === 'message' && l.kind === 'response' && l.dir === 's2c').length;

  const r = run('report', ['--json', dir]);
  assert.equal(r.status, 0, r.stderr);
  const doc = JSON.parse(r.stdout) as { sources: string[]; sessions: number; methods: MethodStats[] };
  assert.deepEqual(doc.sources, [path.join(dir, 'lsptap-1.jsonl'), path.join(dir, 'lsptap-2.jsonl')]);
  assert.equal(doc.sessions, 2);
  assert.equal(doc.methods.filter((m) => m.dir === 'c2s').reduce((n, m) => n + m.answered, 0), 2 * responses);

  const d = run('diff', [dir, '--', path.join(dir, 'lsptap-1.jsonl')]);
  assert.equal(d.status, 0, d.stderr);
  assert.match(d.stdout, /A = 2 log\(s\), 2 session\(s\)/);

  // top follows a directory given as LOG as it follows --log-dir.
  const top = run('top', ['--once', '--recent', '1000h', dir]);
  assert.equal(top.status, 0, top.stderr);
  assert.match(top.stdout, /^lsptap top .* 2 log\(s\), 2 session\(s\)/);

  const empty = path.join(dir, 'old', 'empty');
  fs.mkdirSync(empty);
  const e = run('report', [empty]);
  assert.equal(e.status, 2);
  assert.match(e.stderr, /^lsptap report: no \*\.jsonl files in .*empty\n$/);
});

/** The seed with the latencies of its first responses replaced, in order ('__huge__' is 1e400, Infinity to JSON.parse). */
function withLatencies(values: unknown[]): string {
  let i = 0;
  return seedLines().map((l) => {
    if (l.msg !== 'message' || l.kind !== 'response' || i >= values.length) return JSON.stringify(l);
    return JSON.stringify({ ...l, latencyMs: values[i++] }).replace('"latencyMs":"__huge__"', '"latencyMs":1e400');
  }).join('\n') + '\n';
}

const responsesOf = (lines: Record<string, unknown>[]): number => lines.filter((l) => l.msg === 'message' && l.kind === 'response').length;

test('report rejects negative, infinite, absurdly large and non-numeric latencies with a counted reason and leaves them out of the percentiles', (t) => {
  const dir = tmp(t);
  const file = path.join(dir, 'bad.jsonl');
  fs.writeFileSync(file, withLatencies([-5, -5, '__huge__', 1e308, '12', true]));
  const r = run('report', ['--json', file]);
  assert.equal(r.status, 0, r.stderr);
  const doc = JSON.parse(r.stdout) as { methods: MethodStats[]; rejected: { reason: string; count: number; first: string }[] };
  assert.equal(doc.methods.reduce((n, m) => n + m.answered, 0), responsesOf(seedLines()) - 6);
  for (const m of doc.methods) if (m.p50Ms !== null) assert.ok(m.p50Ms >= 0 && m.maxMs! < 1e6, JSON.stringify(m));
  assert.deepEqual(doc.rejected.map((x) => [x.reason, x.count]).sort(), [['latencyMs is negative', 2], ['latencyMs is not a number', 2], ['latencyMs is over a year', 1], ['latencyMs is not finite', 1]].sort());
  assert.match(doc.rejected[0].first, /bad\.jsonl:\d+$/);

  const plain = run('report', [file]);
  assert.equal(plain.status, 0, plain.stderr);
  assert.match(plain.stdout, /6 response\(s\) with a bad latency left out: 2 latencyMs is negative/);
  assert.doesNotMatch(plain.stdout, /-5\.00|Infinity|e\+308/);
});

test('diff leaves bad latencies out of both sides and says how many', (t) => {
  const dir = tmp(t);
  const a = path.join(dir, 'a.jsonl');
  const b = path.join(dir, 'b.jsonl');
  fs.writeFileSync(a, withLatencies([]));
  fs.writeFileSync(b, withLatencies([1e308, 1e308, 1e308, -1]));
  const d = run('diff', ['--json', a, '--', b]);
  assert.equal(d.status, 0, d.stderr);
  const c = JSON.parse(d.stdout) as Comparison;
  assert.equal(c.b.rejectedLatencies, 4);
  for (const r of c.rows) assert.ok(r.b === null || r.b.p99Ms === null || r.b.p99Ms < 1e6, JSON.stringify(r));
  const plain = run('diff', [a, '--', b]);
  assert.match(plain.stdout, /B = 1 log\(s\), 1 session\(s\), \d+ message\(s\), 4 bad latency value\(s\) left out/);
  assert.doesNotMatch(plain.stdout, /inf/);
});

test('a month of notifications leaves nothing in a text report\'s timeline, the earliest the HTML page draws and their count in its, and all of them in --trace\'s', () => {
  const filters = { method: null, sinceMs: null, untilMs: null, slowest: 10 };
  // 10,000 notifications, logged latest first: the earliest are the last lines.
  const lines = Array.from({ length: 10_000 }, (_, i) => ({
    msg: 'message', session: 's1', kind: 'notification', dir: 's2c', method: 'textDocument/publishDiagnostics', firstByteMs: 10_000 - i, time: 1_700_000_010_000 - i,
  }));
  const build = (b: TimelineBuilder) => { for (const l of lines) b.addLine(l, 'a.jsonl'); return b.result(); };
  const text = build(new TimelineBuilder(filters, 0)).sessions;
  assert.equal(text.reduce((n, s) => n + s.notifications.length, 0), 0, 'a text report draws no timeline: nothing kept');
  const html = build(new TimelineBuilder(filters, SVG_MAX_REQUESTS, SVG_MAX_NOTIFICATIONS)).sessions[0];
  assert.equal(html.notifications.length, SVG_MAX_NOTIFICATIONS);
  assert.ok(html.notifications.every((n, i) => n.atMs === i + 1), 'the earliest, in time order');
  assert.deepEqual([html.notificationCount, html.lastNotificationMs], [10_000, 10_000]);
  const trace = build(new TimelineBuilder(filters, null)).sessions[0];
  assert.equal(trace.notifications.length, 10_000);
});

test('the HTML page\'s timeline keeps the earliest notifications of lines out of time order, ties in the order logged, as sorting them all would', () => {
  const seed = 24;
  const random = seededRandom(seed);
  const filters = { method: null, sinceMs: null, untilMs: null, slowest: 10 };
  const methods = ['textDocument/publishDiagnostics', 'window/logMessage', '$/progress', 'textDocument/didChange'];
  // Whole ms from a small range: many ties, and the earliest come at any point of the log.
  const lines = Array.from({ length: 9_001 }, () => {
    const method = methods[Math.floor(random() * methods.length)];
    return { msg: 'message', session: 's1', kind: 'notification', dir: method === 'textDocument/didChange' ? 'c2s' : 's2c', method, firstByteMs: Math.floor(random() * 3000), time: 1_700_000_000_000 };
  });
  const b = new TimelineBuilder(filters, SVG_MAX_REQUESTS, SVG_MAX_NOTIFICATIONS);
  for (const l of lines) b.addLine(l, 'a.jsonl');
  const kept = b.result().sessions[0];
  const expected = lines.map((l) => ({ method: l.method, dir: l.dir, atMs: l.firstByteMs })).sort((x, y) => x.atMs - y.atMs).slice(0, SVG_MAX_NOTIFICATIONS);
  assert.deepEqual(kept.notifications, expected, `seed ${seed}`);
  assert.deepEqual([kept.notificationCount, kept.lastNotificationMs], [lines.length, Math.max(...lines.map((l) => l.firstByteMs))]);
});

test('the HTML page\'s timeline draws the children of every answered request, also of one too short to be drawn itself', () => {
  const filters = { method: null, sinceMs: null, untilMs: null, slowest: 10 };
  const timeline = new TimelineBuilder(filters, 1);
  const report = new ReportBuilder(filters, timeline);
  const child = { pid: 4242, comm: 'go', path: '/usr/bin/go', args: ['go', 'list', './...'], startUs: 1000, wallUs: 5000, cpuUs: 3000, exitCode: 0, signal: null };
  const pair = (id: number, atMs: number, latencyMs: number, children: unknown[]): Record<string, unknown>[] => [
    { msg: 'message', session: 's1', time: 1_700_000_000_000 + atMs, dir: 'c2s', kind: 'request', method: 'textDocument/hover', id, firstByteMs: atMs, lastByteMs: atMs, forwardedMs: atMs + 0.1 },
    { msg: 'message', session: 's1', time: 1_700_000_000_000 + atMs + latencyMs, dir: 's2c', kind: 'response', method: 'textDocument/hover', id, firstByteMs: atMs + latencyMs, lastByteMs: atMs + latencyMs, forwardedMs: atMs + latencyMs + 0.1, latencyMs, isError: false, kernel: { serverCpuUs: 10, children } },
  ];
  // Three long requests fill the builder (it cuts back to the longest once it holds twice its maximum), then a short one with a child.
  const lines = [...pair(1, 0, 500, []), ...pair(2, 1000, 400, []), ...pair(3, 2000, 300, []), ...pair(4, 3000, 20, [child])];
  lines.forEach((l, i) => { report.add(l, 'a.jsonl', i + 1); timeline.addLine(l, 'a.jsonl'); });
  const s = timeline.result().sessions[0];
  assert.deepEqual(s.requests.map((r) => r.id), [1], 'only the longest request is kept');
  assert.deepEqual(s.children.map((c) => [c.pid, c.name, c.running]), [[4242, 'go list', false]], 'the short request\'s child is drawn');
  assert.deepEqual(report.result().slowest.map((r) => r.id), [1, 2, 3, 4]);
  // The builder kept one of the four: the page says of how many, not of how many it kept.
  assert.match(sessionTimelineSvg(timeline.result(), () => 'server').note ?? '', /the 1 longest of 4 requests are drawn/);
});
