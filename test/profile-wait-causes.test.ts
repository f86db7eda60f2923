// A wait profile split by cause, through the real bin/lsptap: a stripped Go server built here
// waits on a child that spins, reads a file past the page cache (O_DIRECT), blocks in
// flock(2) on a lock its child holds, and waits for a child that sleeps. Each request's wait
// samples carry the cause the kernel fields give their time (child, disk; the rest by the
// syscall the thread slept in), they add up to those fields per request, and Go's own pprof
// selects them with -tagfocus cause=NAME.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { execFileSync } from 'node:child_process';
import { readLog, lsptapBin, tmpDir, type LogLine } from './helpers/index';
import { bpfSkipReason, startSession, endSession, responseLine } from './helpers/kernel';
import { buildProfileServer, goSkip } from './helpers/profile-server';
import { emptyProfileData, readProfileFile } from '../src/profile/profile-reader';
import type { ProfileDigest } from '../src/model/record';
import type { WaitCause } from '../src/model/profile-file';

const skip = bpfSkipReason() || goSkip();

/** What each request waits on, and the function that waits. */
const CASES: { method: string; cause: WaitCause; fn: string }[] = [
  { method: 'lsptap/child', cause: 'child', fn: 'main.waitForChild' },
  { method: 'lsptap/disk', cause: 'disk', fn: 'main.readDirect' },
  { method: 'lsptap/lock', cause: 'lock', fn: 'main.waitForLock' },
  { method: 'lsptap/block', cause: 'waitpid', fn: 'main.blockInSyscall' },
];

const kernelOf = (l: LogLine): { serverBlockedUs: number; blockedOnChildUs: number; blockedOnDiskUs: number; blockedOtherUs: number; profile: ProfileDigest } => {
  const k = l.kernel as ReturnType<typeof kernelOf> | null;
  assert.ok(k?.profile, `no kernel.profile on ${JSON.stringify(l)}`);
  return k;
};

/** What pprof -top's selection holds: `Showing nodes accounting for 115.58ms, 5.14% of 2247.05ms total`. */
function pprofFocusedMs(top: string): number {
  const m = /accounting for ([\d.]+)(ms|s|us|ns),/.exec(top);
  assert.ok(m !== null, top);
  return Number(m[1]) * { s: 1000, ms: 1, us: 1e-3, ns: 1e-6 }[m[2] as 's' | 'ms' | 'us' | 'ns'];
}

test('each wait carries its cause: a spinning child, the disk, a lock, a sleeping child; per request the causes add up to the kernel fields, and pprof -tagfocus cause= selects them', { skip }, async (t) => {
  const dir = tmpDir(t, { worldWritable: true });
  const built = buildProfileServer(dir);
  const log = path.join(dir, 'log.jsonl');
  const run = await startSession(t, ['--log', log, '--profile-hz', '99'], { server: [built.stripped] });
  await run.conn.sendRequest('initialize', {});
  await run.conn.sendRequest('lsptap/prepare', {});
  for (const c of CASES) await run.conn.sendRequest(c.method, { ms: 300 });
  const exit = await endSession(run);
  assert.equal(exit.code, 0, exit.stderr);
  const lines = readLog(log);
  const data = emptyProfileData();
  readProfileFile(path.join(dir, 'log.profile.jsonl'), data);

  for (const [i, c] of CASES.entries()) {
    const id = i + 2;
    const k = kernelOf(responseLine(lines, id));
    // The profile file: every wait sample of the request, by cause, against the kernel fields
    // (a thread whose wakeup went unseen once kept a share of every later wait, and the
    // waits of a busy machine's windows fell to a half or a third of their blocked time).
    const waits = data.samples.filter((s) => s.kind === 'wait' && s.id === String(id));
    const by = (f: (cause: WaitCause | undefined) => boolean): number => waits.filter((s) => f(s.cause)).reduce((n, s) => n + s.valueNs, 0);
    const waitNs = by(() => true);
    assert.ok(waitNs > 0 && waits.every((s) => s.cause !== undefined), `${c.method}: wait samples, each with a cause`);
    const same = (ns: number, us: number, what: string): void =>
      assert.ok(Math.abs(ns / 1000 - us) <= Math.max(1000, 0.02 * us), `${c.method}: ${what} ${ns / 1e6} ms in the profile file, ${us / 1000} ms in the kernel fields`);
    same(by((x) => x === 'child'), k.blockedOnChildUs, 'child');
    same(by((x) => x === 'disk'), k.blockedOnDiskUs, 'disk');
    same(by((x) => x !== 'child' && x !== 'disk'), k.blockedOtherUs, 'the other causes');

    // The caused truth: most of the blocked time is the cause the request made, waited in its
    // function (a read past the page cache of a virtual disk can be quick: 30 ms is enough).
    assert.ok(k.serverBlockedUs >= 30_000, `${c.method}: blocked ${k.serverBlockedUs} µs of a 300 ms wait`);
    const causes = k.profile.waitCauses ?? [];
    const top = causes[0];
    assert.equal(top?.cause, c.cause, `${c.method}: waitCauses ${JSON.stringify(causes)}`);
    // (lock: its child's start, a Go binary on a loaded machine, is `child` time before the lock.)
    assert.ok(top.ms >= (c.cause === 'lock' ? 0.5 : 0.8) * k.profile.waitMs, `${c.method}: ${top.ms} ms of ${k.profile.waitMs} ms waited on ${c.cause}`);
    assert.ok((top.in.find((s) => s.fn === c.fn)?.pct ?? 0) >= 80, `${c.method}: ${c.cause} waited in ${JSON.stringify(top.in)}`);
  }

  // Go's own pprof: -tagfocus cause=NAME selects that cause's samples; the disk request's are under readDirect.
  const wait = path.join(dir, 'wait.pb.gz');
  execFileSync(process.execPath, [lsptapBin, 'profile', '--kind', 'wait', '-o', wait, log], { stdio: 'pipe' });
  const pprof = (...args: string[]): string => execFileSync('go', ['tool', 'pprof', ...(args[0] === '-tags' ? [] : ['-top']), ...args, wait], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  const diskNs = data.samples.filter((s) => s.kind === 'wait' && s.id === '3' && s.cause === 'disk').reduce((n, s) => n + s.valueNs, 0);
  // Two labels at once: pprof's key-less form, each regexp matching some `key:value`.
  const diskTop = pprof('-tagfocus', '^cause:disk$,^id:3$');
  assert.match(diskTop, /main\.readDirect/);
  assert.ok(Math.abs(pprofFocusedMs(diskTop) - diskNs / 1e6) <= 0.1, `pprof's disk time of id 3 against the profile file's ${diskNs / 1e6} ms: ${diskTop}`);
  const lockTop = pprof('-tagfocus', 'cause=lock');
  assert.match(lockTop, /main\.waitForLock/);
  assert.doesNotMatch(lockTop, /main\.readDirect|main\.blockInSyscall/, 'no other request waited on a lock');
  assert.match(pprof('-tags'), /cause: Total[^]*\bdisk\b[^]*\block\b/);

  // lsptap profile --cause: the same selection, and the text form's time by cause.
  const text = execFileSync(process.execPath, [lsptapBin, 'profile', '--cause', 'child', log], { encoding: 'utf8' });
  assert.match(text, /^wait: .*\nby cause: child /);
  assert.match(text, /main\.waitForChild/);
  assert.doesNotMatch(text, /main\.readDirect/);
});
