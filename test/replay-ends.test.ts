// `lsptap replay` always ends and says when the replay does not match: a server that stays
// after `exit` is stopped by the child lsptap's grace rules, a recording cut mid-line exits
// 3, requests that fail now but succeeded when recorded exit 1 with one line saying so, and
// the recording's bodies stay in the file until they are sent.

import test, { type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import v8 from 'node:v8';
import vm from 'node:vm';
import { spawnSync } from 'node:child_process';
import { lsptapBin, connect, lspServer, readLog, startLsptap, tmpDir } from './helpers/index';
import { missingCommand, skipUnless } from './helpers/capabilities';
import { readRecording } from '../src/replay/recording';

function replay(args: string[], timeoutMs = 120_000): { stdout: string; stderr: string; status: number | null; signal: NodeJS.Signals | null } {
  const r = spawnSync(process.execPath, [lsptapBin, 'replay', ...args], { encoding: 'utf8', timeout: timeoutMs, maxBuffer: 64 << 20 });
  return { stdout: r.stdout, stderr: r.stderr, status: r.status, signal: r.signal };
}

const lastLine = (s: string): string => s.trimEnd().split('\n').pop() ?? '';

/** A real session through lsptap --bodies with the fixture server: initialize, `echoes` test/echo requests, opens of `openBytes` each, shutdown, exit. */
async function record(t: TestContext, file: string, echoes: number, opens: number[] = []): Promise<void> {
  const lsptap = startLsptap(t, ['--bodies', '--bodies-max', String(64 << 20), '--bpf', 'off', '--log', file], [process.execPath, lspServer]);
  const conn = connect(lsptap.child);
  await conn.sendRequest('initialize', { processId: null, rootUri: null, capabilities: {} });
  await conn.sendNotification('initialized', {});
  for (const [i, bytes] of opens.entries()) await conn.sendNotification('textDocument/didOpen', { textDocument: { uri: `file:///tmp/f${i}.go`, languageId: 'go', version: 1, text: 'x'.repeat(bytes) } });
  for (let i = 0; i < echoes; i++) await conn.sendRequest('test/echo', { n: i });
  await conn.sendRequest('shutdown');
  await conn.sendNotification('exit');
  assert.equal((await lsptap.exited).code, 0, lsptap.stderr());
  conn.dispose();
}

test('replay ends when the server ignores exit and stdin: the child lsptap sends SIGTERM, then SIGKILL, after --grace-ms', { timeout: 180_000 }, async (t) => {
  const dir = tmpDir(t);
  const rec = path.join(dir, 'rec.jsonl');
  await record(t, rec, 3);
  // The case: a server that reads to the end and never answers; --wait-ms bounds each wait.
  const quiet = replay(['--pace', 'asap', '--wait-ms', '1000', '--grace-ms', '300', '--log', path.join(dir, 'quiet.jsonl'), rec, '--', 'sh', '-c', 'cat > /dev/null']);
  assert.equal(quiet.signal, null, 'replay ended by itself');
  assert.equal(quiet.status, 1, quiet.stderr);
  assert.match(lastLine(quiet.stdout), /^replay: FAILED: 5 request\(s\) unanswered$/);
  // A server that outlives stdin's end and ignores SIGTERM.
  const stubborn = path.join(dir, 'stubborn.jsonl');
  const r = replay(['--pace', 'asap', '--wait-ms', '1000', '--grace-ms', '300', '--log', stubborn, rec, '--', 'sh', '-c', 'trap "" TERM; while :; do sleep 1; done']);
  assert.equal(r.signal, null);
  assert.equal(r.status, 1);
  assert.match(lastLine(r.stdout), /^replay: FAILED: 5 request\(s\) unanswered; server exit code 137$/);
  const warns = readLog(stubborn).filter((l) => l.level === 40).map((l) => l.msg);
  assert.ok(warns.includes('server still running; sending SIGTERM') && warns.includes('server still running; sending SIGKILL'), JSON.stringify(warns));
});

test('replay of a recording cut mid-line replays what it can, exits 3 and says the recording is corrupt', { timeout: 180_000 }, async (t) => {
  const dir = tmpDir(t);
  const rec = path.join(dir, 'rec.jsonl');
  await record(t, rec, 12);
  const text = fs.readFileSync(rec, 'utf8');
  const cut = path.join(dir, 'cut.jsonl');
  // Cut inside the line of the request with id 7 (initialize is id 0): 8 client messages before it (initialize, initialized, 6 echoes).
  const at = text.indexOf('"dir":"c2s","kind":"request","method":"test/echo","id":7');
  assert.ok(at > 0);
  fs.writeFileSync(cut, text.slice(0, at));
  const r = replay(['--pace', 'asap', '--log', path.join(dir, 'replayed.jsonl'), cut, '--', process.execPath, lspServer]);
  assert.equal(r.status, 3, r.stdout + r.stderr);
  assert.match(lastLine(r.stdout), /^replay: CORRUPT RECORDING: 1 line\(s\) could not be read \(cut mid-line or not JSON; first at .*cut\.jsonl:\d+\); replayed the 8 of 8 client message\(s\) that could$/);
  assert.match(r.stdout, /replayed 8 message\(s\)/);

  const whole = replay(['--pace', 'asap', '--log', path.join(dir, 'whole.jsonl'), rec, '--', process.execPath, lspServer]);
  assert.equal(whole.status, 0, whole.stdout + whole.stderr);
  assert.equal(lastLine(whole.stdout), 'replay: OK');
  // No stderr line per request: the header line only.
  assert.equal(whole.stderr.trimEnd().split('\n').length, 1, whole.stderr);
});

test('replay exits 1 when requests that succeeded when recorded fail against the new server, with one line saying which', { ...skipUnless(missingCommand('gopls')), timeout: 300_000 }, async (t) => {
  const dir = tmpDir(t);
  const rec = path.join(dir, 'rec.jsonl');
  // 20 test/echo requests succeed with the fixture server; gopls has no such method.
  await record(t, rec, 20);
  const r = replay(['--pace', 'asap', '--bpf', 'off', '--log', path.join(dir, 'gopls.jsonl'), rec, '--', 'gopls'], 240_000);
  assert.equal(r.status, 1, r.stdout + r.stderr);
  assert.match(lastLine(r.stdout), /^replay: FAILED: 20 of 22 request\(s\) failed that succeeded when recorded \(test\/echo 20; first: .+\)$/);
});

test('reading a recording keeps its client bodies in the file: 120 MB of didOpens add less than 30 MB of heap', { timeout: 300_000 }, async (t) => {
  const dir = tmpDir(t);
  const rec = path.join(dir, 'big.jsonl');
  await record(t, rec, 2, Array.from({ length: 40 }, () => 3 << 20));
  assert.ok(fs.statSync(rec).size > 120e6, `${fs.statSync(rec).size} bytes`);
  v8.setFlagsFromString('--expose-gc');
  const gc = vm.runInNewContext('gc') as () => void;
  gc();
  const before = process.memoryUsage().heapUsed;
  const r = await readRecording(rec, [rec], null);
  gc();
  const grownMb = (process.memoryUsage().heapUsed - before) / 1e6;
  assert.equal(r.messages.filter((m) => m.method === 'textDocument/didOpen').length, 40);
  assert.ok(grownMb < 30, `heap grew ${grownMb.toFixed(1)} MB holding the recording`);
});
