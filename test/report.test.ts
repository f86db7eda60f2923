// `lsptap report` on real gopls session logs, through the real binary: counts and
// percentiles agree with the log's own lines, corrupt lines are named and skipped, filters
// apply, and kernel parts in the logs show up in the breakdown.

import test from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { execFileSync, spawnSync } from 'node:child_process';
import { lsptapBin, readLog } from './helpers/index';
import { missingCommand, skipUnless } from './helpers/capabilities';
import { runFixtureSession } from './helpers/fixture-session';
import { quantile } from '../src/model/quantile';
import type { MethodStats } from '../src/sinks/summary';

interface ReportDoc { sessions: number; messages: number; corrupt: { source: string; lineNo: number; reason: string }[]; methods: (MethodStats & { unanswered: number })[]; slowest: { method: string; latencyMs: number; phases: { name: string; startMs: number; endMs: number; inLatency: boolean }[]; kernel: Record<string, number> | null }[]; unanswered: { dir: string; method: string; id: number | string; reason: string; lineNo: number; waitedAtLeastMs: number }[] }

const gopls = missingCommand('gopls');
let logDir: string | null = null;
const logs: string[] = [];

/** Two real sessions, shared by the tests below. */
async function sessionLogs(): Promise<string[]> {
  if (logDir !== null) return logs;
  logDir = fs.mkdtempSync(path.join(os.tmpdir(), 'lsptap-report-'));
  for (const [i, hovers] of [[1, 6], [2, 9]] as const) {
    const file = path.join(logDir, `session-${i}.jsonl`);
    const r = await runFixtureSession({ logPath: file, hovers });
    assert.equal(r.exitCode, 0);
    logs.push(file);
  }
  return logs;
}

test.after(() => { if (logDir !== null) fs.rmSync(logDir, { recursive: true, force: true }); });

function report(args: string[], input?: string): { stdout: string; stderr: string; status: number | null } {
  const r = spawnSync(process.execPath, [lsptapBin, 'report', ...args], { encoding: 'utf8', input });
  return { stdout: r.stdout, stderr: r.stderr, status: r.status };
}

function hoverLatencies(files: string[]): number[] {
  return files.flatMap((f) => readLog(f)).filter((l) => l.msg === 'message' && l.kind === 'response' && l.method === 'textDocument/hover').map((l) => l.latencyMs as number);
}

test('report --json counts every hover of two sessions and gives exact percentiles of their latencies', skipUnless(gopls), async () => {
  const files = await sessionLogs();
  const r = report(['--json', ...files]);
  assert.equal(r.status, 0, r.stderr);
  const doc = JSON.parse(r.stdout) as ReportDoc;
  assert.equal(doc.sessions, 2);
  const hover = doc.methods.find((m) => m.method === 'textDocument/hover' && m.dir === 'c2s');
  assert.ok(hover !== undefined);
  const lat = Float64Array.from(hoverLatencies(files)).sort();
  assert.equal(hover.count, 15);
  assert.equal(hover.answered, 15);
  assert.equal(hover.p50Ms, Math.round(quantile(lat, 0.5) * 1000) / 1000);
  assert.equal(hover.p99Ms, Math.round(quantile(lat, 0.99) * 1000) / 1000);
  assert.equal(hover.maxMs, lat[lat.length - 1]);
  // Server-to-client requests count toward their own direction.
  assert.ok(doc.methods.some((m) => m.dir === 's2c' && m.method === 'workspace/configuration' && m.answered > 0));
});

test('report lists the slowest requests, slowest first, with phases that add up to the latency', skipUnless(gopls), async () => {
  const files = await sessionLogs();
  const doc = JSON.parse(report(['--json', '--slowest', '3', ...files]).stdout) as ReportDoc;
  assert.equal(doc.slowest.length, 3);
  const all = files.flatMap((f) => readLog(f)).filter((l) => l.kind === 'response').map((l) => l.latencyMs as number).sort((a, b) => b - a);
  assert.deepEqual(doc.slowest.map((s) => s.latencyMs), all.slice(0, 3));
  for (const s of doc.slowest) {
    const names = s.phases.map((p) => p.name);
    // Kernel timing runs where BPF loads (root): then the phases are bounded by syscalls.
    if (names.includes('pipe to server')) {
      assert.deepEqual(names.filter((n) => n !== 'editor to lsptap pipe' && n !== 'lsptap to editor pipe'), ['request forwarded', 'pipe to server', 'server working', 'server writing', 'pipe to lsptap', 'response forwarded']);
    } else {
      assert.deepEqual(names, ['request read', 'request forwarded', 'server working', 'response read', 'response forwarded']);
    }
    for (let i = 1; i < s.phases.length; i++) assert.equal(s.phases[i].startMs, s.phases[i - 1].endMs);
    // The phases marked inLatency add up to the latency (request forwarded -> response fully read).
    const inLatency = s.phases.filter((p) => p.inLatency);
    const measured = inLatency.reduce((sum, p) => sum + p.endMs - p.startMs, 0);
    assert.ok(Math.abs(measured - s.latencyMs) < 0.005, `${measured} vs ${s.latencyMs}`);
  }
});

test('report names a corrupt and a truncated line with their line numbers and reports the rest', skipUnless(gopls), async () => {
  const [first] = await sessionLogs();
  const text = fs.readFileSync(first, 'utf8').split('\n');
  const damaged = path.join(logDir!, 'damaged.jsonl');
  // Line 3 becomes garbage; the file ends in half a line, as after a crash mid-write.
  text[2] = '{"level":30,"msg":"mess';
  fs.writeFileSync(damaged, text.join('\n') + '{"level":30,"time":');
  const r = report([damaged]);
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, /2 corrupt line\(s\) skipped/);
  assert.match(r.stdout, new RegExp(`skipped ${damaged.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')}:3: not JSON`));
  assert.match(r.stdout, new RegExp(`:${text.length}: not JSON`));
  assert.match(r.stdout, /textDocument\/hover\s+6\s/);
  const j = report(['--json', damaged]);
  assert.deepEqual((JSON.parse(j.stdout) as ReportDoc).corrupt.map((c) => c.lineNo), [3, text.length]);
  assert.match(j.stderr, /skipped .*:3: not JSON/);
});

test('report reads a log from stdin and filters by method and time', skipUnless(gopls), async () => {
  const files = await sessionLogs();
  const input = files.map((f) => fs.readFileSync(f, 'utf8')).join('');
  const onlyHover = JSON.parse(report(['--json', '--method', 'textDocument/hover'], input).stdout) as ReportDoc;
  assert.deepEqual(onlyHover.methods.map((m) => m.method), ['textDocument/hover']);
  assert.equal(onlyHover.methods[0].count, 15);
  const future = JSON.parse(report(['--json', '--since', '2999-01-01T00:00:00Z', '-'], input).stdout) as ReportDoc;
  assert.equal(future.messages, 0);
  const lastWeek = JSON.parse(report(['--json', '--since', '7d', ...files]).stdout) as ReportDoc;
  assert.equal(lastWeek.methods.find((m) => m.method === 'textDocument/hover')?.count, 15);
  const bad = report(['--since', 'yesterday-ish', ...files]);
  assert.equal(bad.status, 2);
  assert.match(bad.stderr, /--since needs an ISO date\/time or an age like 7d/);
});

test('report shows p50 and p99 of each kernel part when message lines carry kernel timing', skipUnless(gopls), async () => {
  const [first] = await sessionLogs();
  // Kernel timing (issue 4) adds a `kernel` object to message lines; give the responses one.
  const lines = readLog(first);
  let n = 0;
  // Real kernel timing (on where BPF loads) is dropped so that only these figures show.
  const withKernel = lines.map(({ kernel: _real, ...l }) => (l.kind === 'response' && l.method === 'textDocument/hover' ? { ...l, kernel: { serverCpuUs: 100 * ++n, serverRunqUs: n, toEditorPipeUs: null } } : l));
  const file = path.join(logDir!, 'kernel.jsonl');
  fs.writeFileSync(file, withKernel.map((l) => JSON.stringify(l)).join('\n') + '\n');
  const doc = JSON.parse(report(['--json', file]).stdout) as ReportDoc;
  const hover = doc.methods.find((m) => m.method === 'textDocument/hover')!;
  assert.deepEqual(hover.kernel, { serverCpuUs: { p50: 350, p99: 595 }, serverRunqUs: { p50: 3.5, p99: 5.95 } });
  const text = execFileSync(process.execPath, [lsptapBin, 'report', file], { encoding: 'utf8' });
  assert.match(text, /kernel breakdown \(µs, p50 \/ p99\)/);
  assert.match(text, /textDocument\/hover\s+350 \/ 595\s+3\.5 \/ 6\.0/);
});

test('a log cut after a request shows it as unanswered (log ended) in the table, --json and the HTML page', skipUnless(gopls), async () => {
  const [first] = await sessionLogs();
  const lines = fs.readFileSync(first, 'utf8').split('\n').filter((l) => l.length > 0);
  // Cut right after the last hover request, as when the editor kills lsptap mid-request.
  const parsed = lines.map((l) => JSON.parse(l) as Record<string, unknown>);
  const at = parsed.length - 1 - [...parsed].reverse().findIndex((l) => l.msg === 'message' && l.kind === 'request' && l.method === 'textDocument/hover');
  const request = JSON.parse(lines[at]) as { id: number };
  const cut = path.join(logDir!, 'cut.jsonl');
  fs.writeFileSync(cut, lines.slice(0, at + 1).join('\n') + '\n');

  const doc = JSON.parse(report(['--json', cut]).stdout) as ReportDoc;
  assert.equal(doc.unanswered.length, 1);
  assert.deepEqual({ ...doc.unanswered[0], waitedAtLeastMs: 0 }, { ...doc.unanswered[0], dir: 'c2s', method: 'textDocument/hover', id: request.id, reason: 'log ended', lineNo: at + 1, waitedAtLeastMs: 0 });
  const hover = doc.methods.find((m) => m.method === 'textDocument/hover')!;
  assert.equal(hover.unanswered, 1);
  assert.equal(hover.count, hover.answered + 1);

  const text = report([cut]).stdout;
  assert.match(text, /textDocument\/hover .*1 unanswered \(log ended\)/);
  assert.match(text, new RegExp(`c2s\\s+textDocument/hover\\s+${request.id}\\s.*cut\\.jsonl:${at + 1}`));

  const html = path.join(logDir!, 'cut.html');
  report(['--html', html, cut]);
  const page = fs.readFileSync(html, 'utf8');
  assert.match(page, /<td class="note">1 unanswered \(log ended\)<\/td>/);
  assert.match(page, new RegExp(`<table id="unanswered">[\\s\\S]*textDocument/hover</td><td>${request.id}</td>[\\s\\S]*unanswered \\(log ended\\)`));

  // The whole log, with its `session end`, has no such request.
  assert.deepEqual((JSON.parse(report(['--json', first]).stdout) as ReportDoc).unanswered, []);
});
