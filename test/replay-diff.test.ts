// `lsptap replay` and `lsptap diff` on real gopls sessions through the real binary: the demo
// session recorded with --bodies is played again (every request answered, a comparison row
// for every method, kernel timing in the new log where BPF loads), diff's numbers agree with
// the two logs' own lines, and --root moves a session to another copy of a module.

import test from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { spawnSync } from 'node:child_process';
import { pathToFileURL } from 'node:url';
import { lsptapBin, connect, readLog, startLsptap, tmpDir, type LogLine } from './helpers/index';
import { missingCommand, skipUnless } from './helpers/capabilities';
import { FIXTURE_MODULE } from './helpers/fixture-session';
import { bpfSkipReason } from './helpers/kernel';
import { answerServerRequests } from '../src/demo/gopls-script';
import { quantile } from '../src/model/quantile';
import { medianRatioInterval, seededRandom, MIN_SAMPLES } from '../src/diff/bootstrap';
import { clientSide } from '../src/replay/recording';
import type { Comparison } from '../src/diff/compare';

const gopls = missingCommand('gopls');

function lsptap(args: string[], timeoutMs: number): { stdout: string; stderr: string; status: number | null } {
  const r = spawnSync(process.execPath, [lsptapBin, ...args], { encoding: 'utf8', timeout: timeoutMs, maxBuffer: 64 << 20 });
  return { stdout: r.stdout, stderr: r.stderr, status: r.status };
}

const msgs = (file: string): LogLine[] => readLog(file).filter((l) => l.msg === 'message');
const key = (l: LogLine): string => `${l.kind === 'response' ? (l.dir === 'c2s' ? 's2c' : 'c2s') : String(l.dir)} ${String(l.method)}`;
const round3 = (x: number): number => Math.round(x * 1000) / 1000;

/** Per `dir method` (the request's direction): latencies of its responses, as the log holds them. */
function latencies(lines: LogLine[]): Map<string, number[]> {
  const out = new Map<string, number[]>();
  for (const l of lines) {
    if (l.kind !== 'response' || typeof l.latencyMs !== 'number') continue;
    const list = out.get(key(l)) ?? [];
    list.push(l.latencyMs);
    out.set(key(l), list);
  }
  return out;
}

/** Every request of `lines` has its response (paired by direction and id). */
function unansweredIn(lines: LogLine[]): string[] {
  const open = new Map<string, string>();
  for (const l of lines) {
    if (l.kind === 'request') open.set(`${String(l.dir)} ${String(l.id)}`, String(l.method));
    if (l.kind === 'response') open.delete(`${l.dir === 'c2s' ? 's2c' : 'c2s'} ${String(l.id)}`);
  }
  return [...open.values()];
}

test('replays the demo session recorded with --bodies against gopls: every request answered, a comparison row for every method, and diff agrees with both logs', { ...skipUnless(gopls), timeout: 1_500_000 }, (t) => {
  const dir = tmpDir(t);
  const recorded = path.join(dir, 'recorded.jsonl');
  const replayed = path.join(dir, 'replayed.jsonl');
  const demo = lsptap(['demo', '--bodies', '--log', recorded], 600_000);
  assert.equal(demo.status, 0, demo.stderr);
  const a = msgs(recorded);
  assert.ok(a.every((l) => typeof l.body === 'string'), 'the demo with --bodies logs every body');

  const r = lsptap(['replay', '--log', replayed, recorded, '--', 'gopls'], 600_000);
  t.diagnostic(r.stdout);
  assert.equal(r.status, 0, r.stderr);
  const b = msgs(replayed);
  const requestsOf = (lines: LogLine[]): string[] => lines.filter((l) => l.dir === 'c2s' && l.kind === 'request').map((l) => String(l.method));
  assert.deepEqual(requestsOf(b), requestsOf(a), 'the replay sends the recorded requests in their order');
  assert.deepEqual(unansweredIn(b), [], 'every request of the replay, both ways, has its response');
  const sent = requestsOf(a).length;
  assert.match(r.stdout, new RegExp(`: ${sent} request\\(s\\), ${sent} answered \\(0 with an error\\), 0 unanswered`));
  // The comparison has a row for every method and direction either log holds.
  for (const k of new Set([...a, ...b].map(key))) {
    const [d, m] = k.split(' ');
    assert.match(r.stdout, new RegExp(`^${d}\\s+${m.replace(/[/$]/g, '\\$&')}\\s`, 'm'), `comparison row for ${k}`);
  }
  // The server's own requests were answered with the recorded answers (same bodies).
  const answers = (lines: LogLine[]): string[] => lines.filter((l) => l.dir === 'c2s' && l.kind === 'response' && l.method === 'workspace/configuration').map((l) => JSON.stringify((JSON.parse(String(l.body)) as { result: unknown }).result));
  const recordedAnswers = answers(a);
  assert.ok(recordedAnswers.length > 0);
  // The replay log has bodies only with --bodies; its response lines are there regardless.
  assert.equal(b.filter((l) => l.dir === 'c2s' && l.kind === 'response' && l.method === 'workspace/configuration').length, recordedAnswers.length);
  if (bpfSkipReason() === false) {
    assert.ok(b.some((l) => l.kind === 'response' && typeof (l.kernel as Record<string, unknown> | undefined)?.serverUs === 'number'), 'the replay log has kernel timing');
  }

  const d = lsptap(['diff', '--json', '--html', path.join(dir, 'diff.html'), recorded, '--', replayed], 120_000);
  assert.equal(d.status, 0, d.stderr);
  const doc = JSON.parse(d.stdout) as Comparison;
  const la = latencies(a);
  const lb = latencies(b);
  for (const [k, side, lat] of [...[...la].map(([k, v]) => [k, 'a', v] as const), ...[...lb].map(([k, v]) => [k, 'b', v] as const)]) {
    const row = doc.rows.find((x) => `${x.dir} ${x.method}` === k);
    assert.ok(row !== undefined, `diff row for ${k}`);
    const s = side === 'a' ? row.a : row.b;
    const sorted = Float64Array.from(lat).sort();
    assert.equal(s?.answered, lat.length, `${k} answered on side ${side}`);
    assert.equal(s?.p50Ms, round3(quantile(sorted, 0.5)), `${k} p50 on side ${side}`);
    assert.equal(s?.p99Ms, round3(quantile(sorted, 0.99)), `${k} p99 on side ${side}`);
    // One session of the demo has fewer than MIN_SAMPLES of any method: no verdict claimed.
    if (lat.length < MIN_SAMPLES) assert.equal(row.verdict, 'few');
  }
  const html = fs.readFileSync(path.join(dir, 'diff.html'), 'utf8');
  assert.match(html, /<table id="diff">/);
  for (const row of doc.rows) assert.ok(html.includes(`<td>${row.method.replace(/&/g, '&#38;')}</td>`), `html row for ${row.method}`);
});

test('replay --root moves a session recorded in one copy of a module to another copy', { ...skipUnless(gopls), timeout: 600_000 }, async (t) => {
  const dir = tmpDir(t);
  const here = path.join(dir, 'here');
  const there = path.join(dir, 'there');
  fs.cpSync(FIXTURE_MODULE, here, { recursive: true });
  fs.cpSync(FIXTURE_MODULE, there, { recursive: true });
  const recorded = path.join(dir, 'recorded.jsonl');
  const env = { ...process.env, GOPROXY: 'off', GOFLAGS: '-mod=mod' };
  const run = startLsptap(t, ['--bodies', '--bpf', 'off', '--log', recorded], ['gopls'], { cwd: here, env });
  const conn = connect(run.child);
  answerServerRequests(conn);
  const root = pathToFileURL(here).href;
  const file = path.join(here, 'main.go');
  const text = fs.readFileSync(file, 'utf8');
  const uri = pathToFileURL(file).href;
  await conn.sendRequest('initialize', { processId: process.pid, rootUri: root, workspaceFolders: [{ uri: root, name: 'm' }], capabilities: { workspace: { configuration: true } } });
  await conn.sendNotification('initialized', {});
  await conn.sendNotification('textDocument/didOpen', { textDocument: { uri, languageId: 'go', version: 1, text } });
  const line = text.split('\n').findIndex((l) => l.includes('s.Area()'));
  const def = await conn.sendRequest('textDocument/definition', { textDocument: { uri }, position: { line, character: text.split('\n')[line].indexOf('Area') } }) as { uri: string }[];
  assert.ok(def[0].uri.startsWith(`${root}/`), 'recorded: the definition is in this copy');
  await conn.sendRequest('shutdown');
  await conn.sendNotification('exit');
  assert.equal((await run.exited).code, 0);

  const replayed = path.join(dir, 'replayed.jsonl');
  const r = spawnSync(process.execPath, [lsptapBin, 'replay', '--root', there, '--bodies', '--bpf', 'off', '--pace', 'asap', '--log', replayed, recorded, '--', 'gopls'], { encoding: 'utf8', env, timeout: 300_000 });
  assert.equal(r.status, 0, r.stderr);
  const b = msgs(replayed);
  const body = (method: string, dir: string, kind: string): Record<string, unknown> => JSON.parse(String(b.find((l) => l.method === method && l.dir === dir && l.kind === kind)?.body)) as Record<string, unknown>;
  const init = body('initialize', 'c2s', 'request').params as { rootUri: string; workspaceFolders: { uri: string }[] };
  const thereUri = pathToFileURL(there).href;
  assert.equal(init.rootUri, thereUri);
  assert.equal(init.workspaceFolders[0].uri, thereUri);
  const open = body('textDocument/didOpen', 'c2s', 'notification').params as { textDocument: { uri: string; text: string } };
  assert.equal(open.textDocument.uri, `${thereUri}/main.go`);
  assert.equal(open.textDocument.text, text, 'file contents are sent as recorded');
  const result = body('textDocument/definition', 's2c', 'response').result as { uri: string }[];
  assert.ok(result[0].uri.startsWith(`${thereUri}/`), `the new server answers from the other copy: ${result[0].uri}`);
  assert.ok(!readLog(replayed).some((l) => typeof l.body === 'string' && l.body.includes(root + '/')), 'no message of the replay names the old root');
});

test('the bootstrap gives no verdict for two samples of one distribution and a verdict for a 1.5x shift', () => {
  const seed = 1717;
  const random = seededRandom(seed);
  // Log-normal latencies around 20 ms, as request latencies are.
  const sample = (n: number, scale: number): Float64Array => Float64Array.from({ length: n }, () => {
    const z = Math.sqrt(-2 * Math.log(1 - random())) * Math.cos(2 * Math.PI * random());
    return scale * 20 * Math.exp(0.5 * z);
  }).sort();
  const same = medianRatioInterval(sample(60, 1), sample(60, 1), seed);
  assert.ok(same !== null && same.low < 1 && same.high > 1, `seed ${seed}: same distribution, interval ${JSON.stringify(same)} holds 1`);
  const slower = medianRatioInterval(sample(60, 1), sample(60, 1.5), seed);
  assert.ok(slower !== null && slower.low > 1, `seed ${seed}: 1.5x slower, interval ${JSON.stringify(slower)} above 1`);
  assert.equal(medianRatioInterval(sample(MIN_SAMPLES - 1, 1), sample(60, 3), seed), null, 'too few on one side: no interval');
});

test('each replayed message waits for the responses that reached the editor before it was sent, and keeps the think time after them', () => {
  const line = (o: Record<string, unknown>): Record<string, unknown> => ({ msg: 'message', body: JSON.stringify({ jsonrpc: '2.0', id: o.id ?? undefined, method: o.method }), ...o });
  const lines = [
    line({ dir: 'c2s', kind: 'request', method: 'initialize', id: 0, offset: 0, firstByteMs: 10 }),
    line({ dir: 's2c', kind: 'response', method: 'initialize', id: 0, forwardedMs: 50 }),
    line({ dir: 'c2s', kind: 'notification', method: 'initialized', id: null, offset: 100, firstByteMs: 55 }),
    // Two requests in flight together: the second does not wait for the first.
    line({ dir: 'c2s', kind: 'request', method: 'textDocument/hover', id: 1, offset: 200, firstByteMs: 60 }),
    line({ dir: 'c2s', kind: 'request', method: 'textDocument/definition', id: 2, offset: 300, firstByteMs: 61 }),
    line({ dir: 's2c', kind: 'response', method: 'textDocument/definition', id: 2, forwardedMs: 90 }),
    line({ dir: 's2c', kind: 'response', method: 'textDocument/hover', id: 1, forwardedMs: 100 }),
    line({ dir: 'c2s', kind: 'request', method: 'shutdown', id: 3, offset: 400, firstByteMs: 130 }),
    line({ dir: 'c2s', kind: 'response', method: 'workspace/configuration', id: 7, body: '{"jsonrpc":"2.0","id":7,"result":[{"a":1}]}' }),
  ];
  const { messages, answers } = clientSide(lines.map((l, i) => ({ ...l, place: { file: 'recorded.jsonl', start: i, end: i } })));
  assert.deepEqual(messages.map((m) => [m.method, m.awaits, m.gapMs]), [
    ['initialize', [], 0],
    ['initialized', [0], 5],
    ['textDocument/hover', [], 5],
    ['textDocument/definition', [], 1],
    ['shutdown', [2, 1], 30],
  ]);
  assert.deepEqual(answers.get('workspace/configuration'), [{ jsonrpc: '2.0', id: 7, result: [{ a: 1 }] }]);
});
