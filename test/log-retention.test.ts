// Retention of the log directory, as journald keeps its journals (issue 24, finding 5): at
// each start lsptap removes session logs older than --log-dir-days, then the oldest until
// they take at most --log-dir-max, never a file a live session is writing, and says what it
// removed in `session start`. Real files, real ages (utimes), a real process holding a file.

import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { parseSize, pruneLogDir } from '../src/sinks/log-retention';
import { connect, lspServer, lsptapBin, readLog, startLsptap, tmpDir, waitFor } from './helpers/index';

const DAY_MS = 86_400_000;

/** A session log named as lsptap names them, `bytes` long, last written `ageDays` ago. */
function sessionLog(dir: string, n: number, pid: number, bytes: number, ageDays: number): string {
  const file = path.join(dir, `lsptap-20261101T1200${String(n).padStart(2, '0')}-000-${pid}.jsonl`);
  fs.writeFileSync(file, 'x'.repeat(bytes));
  const at = new Date(Date.now() - ageDays * DAY_MS);
  fs.utimesSync(file, at, at);
  return file;
}

/** A pid no process has (a session that ended long ago, or crashed). */
function deadPid(): number {
  const r = spawnSync('true');
  return r.pid!;
}

/** A process that holds `file` open for writing until the test ends, as a live lsptap does. */
async function holder(t: TestContext, dir: string, n: number, ageDays: number): Promise<string> {
  const child = spawn(process.execPath, ['-e', `
    process.stdin.once('data', (d) => { require('fs').openSync(d.toString().trim(), 'a'); process.stdout.write('open\\n'); });
    setInterval(() => {}, 1000);`], { stdio: ['pipe', 'pipe', 'inherit'] });
  t.after(() => child.kill('SIGKILL'));
  const file = sessionLog(dir, n, child.pid!, 4000, ageDays);
  const opened = new Promise((r) => child.stdout.once('data', r));
  child.stdin.write(`${file}\n`);
  await opened;
  return file;
}

test('sizes take K, M and G suffixes in binary units, as journald\'s do', () => {
  assert.deepEqual(['1G', '500M', '64K', '1048576', '1.5K', '2GiB', '0'].map(parseSize), [2 ** 30, 500 * 2 ** 20, 64 * 1024, 1048576, 1536, 2 ** 31, 0]);
  assert.deepEqual(['', 'lots', '-1G', '1X'].map(parseSize), [null, null, null, null]);
});

test('removes logs older than maxDays, then the oldest until the rest fit maxBytes, never a live one or a file not lsptap\'s', async (t) => {
  const dir = tmpDir(t);
  const dead = deadPid();
  const ancient = sessionLog(dir, 1, dead, 1000, 45); // over 30 days
  const liveAncient = await holder(t, dir, 2, 40); // as old, but a live session writes it
  const old = sessionLog(dir, 3, dead, 3000, 10);
  const mid = sessionLog(dir, 4, dead, 3000, 5);
  const recent = sessionLog(dir, 5, dead, 3000, 1);
  const notOurs = path.join(dir, 'notes.jsonl');
  fs.writeFileSync(notOurs, 'y'.repeat(50_000));
  fs.utimesSync(notOurs, new Date(Date.now() - 90 * DAY_MS), new Date(Date.now() - 90 * DAY_MS));
  // 4000 (live) + 3000 * 3 = 13,000 after the age pass; a bound of 10,000 removes the oldest one.
  const r = pruneLogDir(dir, { maxBytes: 10_000, maxDays: 30 }, null);
  assert.deepEqual(r, { removedFiles: 2, removedBytes: 4000, keptFiles: 3, keptBytes: 10_000, liveFiles: 1, failed: [], maxBytes: 10_000, maxDays: 30 });
  assert.deepEqual([ancient, liveAncient, old, mid, recent, notOurs].map((f) => fs.existsSync(f)), [false, true, false, true, true, true]);
  // A bound the live file alone exceeds removes everything else, and never the live file.
  const r2 = pruneLogDir(dir, { maxBytes: 1, maxDays: 0 }, null);
  assert.equal(r2.removedFiles, 2);
  assert.deepEqual([liveAncient, mid, recent, notOurs].map((f) => fs.existsSync(f)), [true, false, false, true]);
});

test('profile files beside session logs count in the bound and go with their session: an old one is removed, a live session\'s is kept', async (t) => {
  const dir = tmpDir(t);
  const profileOf = (log: string, bytes: number, ageDays: number): string => {
    const file = log.replace(/\.jsonl$/, '.profile.jsonl');
    fs.writeFileSync(file, 'p'.repeat(bytes));
    const at = new Date(Date.now() - ageDays * DAY_MS);
    fs.utimesSync(file, at, at);
    return file;
  };
  const deadLog = sessionLog(dir, 1, deadPid(), 1000, 45);
  const deadProfile = profileOf(deadLog, 5000, 45);
  const liveLog = await holder(t, dir, 2, 40); // held open: a live session
  const liveProfile = profileOf(liveLog, 5000, 40); // not held open between its writes
  const r = pruneLogDir(dir, { maxBytes: 1, maxDays: 30 }, null);
  assert.deepEqual([deadLog, deadProfile, liveLog, liveProfile].map((f) => fs.existsSync(f)), [false, false, true, true]);
  assert.equal(r.removedBytes, 6000);
  assert.equal(r.liveFiles, 2);
});

test('0 means no bound, for size and for age', (t) => {
  const dir = tmpDir(t);
  const dead = deadPid();
  const files = [sessionLog(dir, 1, dead, 5000, 400), sessionLog(dir, 2, dead, 5000, 1)];
  const r = pruneLogDir(dir, { maxBytes: 0, maxDays: 0 }, null);
  assert.equal(r.removedFiles, 0);
  assert.ok(files.every((f) => fs.existsSync(f)));
});

test('a session logging into the directory applies --log-dir-max and --log-dir-days at its start and says so in session start', { timeout: 60_000 }, async (t) => {
  const dir = tmpDir(t);
  const dead = deadPid();
  const old = sessionLog(dir, 1, dead, 2000, 40);
  const big = sessionLog(dir, 2, dead, 6000, 3);
  const kept = sessionLog(dir, 3, dead, 1000, 2);
  const run = startLsptap(t, ['--log-dir', dir, '--log-dir-max', '2K', '--log-dir-days', '30', '--bpf', 'off'], [process.execPath, lspServer]);
  const conn = connect(run.child);
  await conn.sendRequest('initialize', { capabilities: {} });
  await conn.sendRequest('shutdown');
  await conn.sendNotification('exit');
  assert.equal((await run.exited).code, 0, run.stderr());
  assert.deepEqual([old, big, kept].map((f) => fs.existsSync(f)), [false, false, true]);
  const own = fs.readdirSync(dir).filter((n) => n.endsWith(`-${run.child.pid}.jsonl`));
  assert.equal(own.length, 1, 'this session\'s own log is there');
  const start = readLog(path.join(dir, own[0]))[0];
  assert.equal(start.msg, 'session start');
  const ret = start.logRetention as Record<string, unknown>;
  assert.deepEqual({ files: ret.removedFiles, bytes: ret.removedBytes, max: ret.maxBytes, days: ret.maxDays }, { files: 2, bytes: 8000, max: 2048, days: 30 });
});

test('standing in for gopls, LSPTAP_LOG_DIR_MAX and LSPTAP_LOG_DIR_DAYS set the retention', { timeout: 60_000 }, async (t) => {
  const dir = tmpDir(t);
  const dead = deadPid();
  const old = sessionLog(dir, 1, dead, 100, 3);
  const older = sessionLog(dir, 2, dead, 100, 8);
  const env = { ...process.env, LSPTAP_LOG_DIR: dir, LSPTAP_LOG_DIR_DAYS: '7', LSPTAP_LOG_DIR_MAX: '1M', LSPTAP_BPF: 'off' };
  // A stand-in "gopls" (gopls's session needs nothing the fixture server lacks here).
  const fake = path.join(tmpDir(t), 'gopls');
  fs.writeFileSync(fake, `#!/bin/sh\nexec ${JSON.stringify(process.execPath)} ${JSON.stringify(lspServer)}\n`, { mode: 0o755 });
  // `lsptap --server S` with gopls's (empty) arguments: a session, as the shim runs one.
  const run = startLsptap(t, ['--server', fake], [], { env });
  const conn = connect(run.child);
  await conn.sendRequest('initialize', { capabilities: {} });
  await conn.sendRequest('shutdown');
  await conn.sendNotification('exit');
  assert.equal((await run.exited).code, 0, run.stderr());
  assert.deepEqual([old, older].map((f) => fs.existsSync(f)), [true, false]);
  await waitFor(() => fs.readdirSync(dir).some((n) => n.endsWith(`-${run.child.pid}.jsonl`)), 5000, 'the session log');
  const own = fs.readdirSync(dir).find((n) => n.endsWith(`-${run.child.pid}.jsonl`))!;
  const ret = readLog(path.join(dir, own))[0].logRetention as Record<string, unknown>;
  assert.deepEqual({ files: ret.removedFiles, max: ret.maxBytes, days: ret.maxDays }, { files: 1, max: 2 ** 20, days: 7 });
});

test('--help lists --log-dir-max and --log-dir-days; a bad size is a usage error naming it', () => {
  const help = spawnSync(process.execPath, [lsptapBin, '--help'], { encoding: 'utf8' });
  assert.match(help.stdout, /--log-dir-max SIZE/);
  assert.match(help.stdout, /--log-dir-days N/);
  const bad = spawnSync(process.execPath, [lsptapBin, '--log-dir-max', 'lots', '--', 'true'], { encoding: 'utf8' });
  assert.equal(bad.status, 2);
  assert.match(bad.stderr, /--log-dir-max needs a size such as 1G, 500M or 64K \(0: no bound\), got "lots"/);
});
