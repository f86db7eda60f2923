// Per-request profiles through the real bin/lsptap: a stripped Go server built here spins in
// one named function and waits for a child in another, and each response line's
// kernel.profile names them, with the tick count and the wait matching the window's
// serverCpuUs and serverBlockedUs.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import fs from 'node:fs';
import { execFileSync } from 'node:child_process';
import { readLog, lsptapBin, type LogLine, tmpDir } from './helpers/index';
import { bpfSkipReason, startSession, endSession, responseLine, kernelDecided } from './helpers/kernel';
import { buildProfileServer, goSkip } from './helpers/profile-server';
import type { ProfileDigest } from '../src/model/record';
import { sentenceFault } from './helpers/sentences';

/** The "slowest requests, explained" sentences of a --summary or `lsptap report` text. */
function slowSentences(text: string): string[] {
  return text.split('\n').map((l) => l.trim()).filter((l) => /^\S+ [\d,]+ ms: /.test(l));
}

const skip = bpfSkipReason() || goSkip();
/** Above the default 99 Hz, so that chance moves 300 ms of ticks by ~8 % (test/profile-sampling.test.ts). */
const HZ = 497;

const profileOf = (l: LogLine): ProfileDigest => {
  const k = l.kernel as { profile?: ProfileDigest } | null;
  assert.ok(k?.profile, `no kernel.profile on ${JSON.stringify(l)}`);
  return k.profile;
};
const share = (list: ProfileDigest['total'], fn: string): number => list.find((s) => s.fn === fn)?.pct ?? 0;

test('each response line names the function its request spent its CPU in and the one it waited in, from a stripped Go binary', { skip }, async (t) => {
  const dir = tmpDir(t, { worldWritable: true });
  const built = buildProfileServer(dir);
  const log = path.join(dir, 'log.jsonl');
  const run = await startSession(t, ['--log', log, '--summary', '--profile-hz', String(HZ)], { server: [built.stripped] });
  await run.conn.sendRequest('initialize', {});
  await run.conn.sendRequest('lsptap/spin', { ms: 300 });
  await run.conn.sendRequest('lsptap/block', { ms: 300 });
  const exit = await endSession(run);
  assert.equal(exit.code, 0, exit.stderr);
  const lines = readLog(log);

  const spin = responseLine(lines, 1);
  const cpu = profileOf(spin);
  // The caused truth: spinOnCPU ran 300 ms of its thread's CPU time (the window's
  // serverCpuUs also counts the runtime's other threads).
  const serverCpuUs = (spin.kernel as { serverCpuUs: number }).serverCpuUs;
  const expected = 0.3 * HZ;
  assert.ok(Math.abs(cpu.samples - expected) <= 0.2 * expected, `${cpu.samples} ticks for 300 ms of spinning at ${HZ} Hz (${expected.toFixed(1)} expected; serverCpuUs ${serverCpuUs})`);
  assert.ok(share(cpu.total, 'main.spinOnCPU') >= 80, `main.spinOnCPU on the stack in ${share(cpu.total, 'main.spinOnCPU')} % of ticks: ${JSON.stringify(cpu.total)}`);
  assert.equal(cpu.self[0].fn, 'main.spinOnCPU', 'the function most often on the CPU');

  const block = responseLine(lines, 2);
  const waited = profileOf(block);
  const blockedUs = (block.kernel as { serverBlockedUs: number }).serverBlockedUs;
  // Not all 300 ms: a woken runtime thread waiting for a CPU (runq) counts as busy on a loaded machine.
  assert.ok(blockedUs >= 100_000, `blocked ${blockedUs} µs of a 300 ms wait`);
  assert.ok(Math.abs(waited.waitMs * 1000 - blockedUs) <= Math.max(1000, 0.02 * blockedUs), `wait ${waited.waitMs} ms for ${blockedUs} µs blocked`);
  assert.ok(share(waited.waitIn, 'main.blockInSyscall') >= 80, `waited in ${JSON.stringify(waited.waitIn)}`);

  // The sentences people read (--summary, lsptap report, the HTML report's) name them too,
  // and still add up: the spin's busy part names the function it spun in (its runtime
  // and syscall work for it charged to it), the block's wait part the one that waited.
  // spinOnCPU's loop, and the clock it reads through threadCPU (its getrusage charged to threadCPU).
  assert.equal(cpu.cpuIn[0].fn, 'main.spinOnCPU', `cpuIn ${JSON.stringify(cpu.cpuIn)}`);
  assert.ok(share(cpu.cpuIn, 'main.spinOnCPU') + share(cpu.cpuIn, 'main.threadCPU') >= 80, `cpuIn ${JSON.stringify(cpu.cpuIn)}`);
  const sentences = [...slowSentences(exit.stderr), ...slowSentences(execFileSync(process.execPath, [lsptapBin, 'report', log], { encoding: 'utf8' }))];
  const said = (method: string): string[] => sentences.filter((l) => l.startsWith(`${method} `));
  assert.equal(said('lsptap/spin').length, 2, exit.stderr);
  for (const l of said('lsptap/spin')) assert.match(l, /busy \(thread time [^)]*; \d+ % in main\.spinOnCPU[,)]/);
  // A sleeping child is not busy, so the wait reads as "on something else", not "for sleep".
  for (const l of said('lsptap/block')) assert.match(l, /: [\d,.]+ ms profile-server waited [^(,]*\(([^)]*; )?\d+ % of the wait in main\.blockInSyscall[,)]/);
  for (const l of sentences) assert.equal(sentenceFault(l), null);
  // The HTML report says the same sentence (escaped) in its slowest requests.
  const html = path.join(dir, 'report.html');
  execFileSync(process.execPath, [lsptapBin, 'report', '--html', html, log], { stdio: 'pipe' });
  const spinSaid = said('lsptap/spin')[1].replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
  assert.ok(fs.readFileSync(html, 'utf8').includes(spinSaid.slice(0, spinSaid.indexOf(')') + 1)), `the HTML report has ${spinSaid}`);

  const end = lines.find((l) => l.msg === 'session end');
  const p = (end?.kernel as { profile?: { hz: number; samples: number; lostSamples: number } } | undefined)?.profile;
  assert.ok(p !== undefined, 'session end has kernel.profile');
  assert.equal(p.hz, HZ);
  assert.equal(p.lostSamples, 0);

  // The profile file beside the log, named by session end, read by Go's own pprof.
  const file = (end as { profileFile?: string }).profileFile;
  assert.equal(file, path.join(dir, 'log.profile.jsonl'));
  assert.equal(fs.statSync(file).mode & 0o777, 0o600);
  const pprof = (kind: string, ...args: string[]): string => {
    const out = path.join(dir, `${kind}.pb.gz`);
    execFileSync(process.execPath, [lsptapBin, 'profile', '--kind', kind, '-o', out, log], { stdio: 'pipe' });
    return execFileSync('go', ['tool', 'pprof', '-top', ...args, out], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  };
  assert.match(pprof('cpu', '-tagfocus', 'id=1'), /main\.spinOnCPU/);
  const wait = pprof('wait', '-tagfocus', 'id=2');
  assert.match(wait, /main\.blockInSyscall/);
  assert.doesNotMatch(pprof('cpu', '-tagfocus', 'id=2'), /main\.spinOnCPU/, 'request 2 did not spin');
});

test('--profile-hz 0 turns profiling off: no kernel.profile anywhere, kernel timing still on', { skip }, async (t) => {
  const dir = tmpDir(t, { worldWritable: true });
  const log = path.join(dir, 'log.jsonl');
  const run = await startSession(t, ['--log', log, '--profile-hz', '0']);
  await run.conn.sendRequest('initialize', {});
  const exit = await endSession(run);
  assert.equal(exit.code, 0, exit.stderr);
  const lines = readLog(log);
  const r = responseLine(lines, 1);
  assert.ok(r.kernel !== null && r.kernel !== undefined, 'kernel timing ran');
  assert.equal((r.kernel as Record<string, unknown>).profile, undefined);
  assert.equal((lines.find((l) => l.msg === 'session end')?.kernel as Record<string, unknown>).profile, undefined);
});

test('a session that sends before the probes watch still profiles its later requests: the kernel\'s byte counts are moved to the session\'s offsets', { skip }, async (t) => {
  const dir = tmpDir(t, { worldWritable: true });
  const built = buildProfileServer(dir);
  const log = path.join(dir, 'log.jsonl');
  // As an editor does: initialize at once, while the probes still load beside the server.
  const run = await startSession(t, ['--log', log, '--profile-hz', String(HZ)], { server: [built.stripped], early: true });
  await run.conn.sendRequest('initialize', { padding: 'x'.repeat(20_000) });
  await kernelDecided(log, run);
  await run.conn.sendRequest('lsptap/spin', { ms: 300 });
  const exit = await endSession(run);
  assert.equal(exit.code, 0, exit.stderr);
  const lines = readLog(log);
  const on = lines.find((l) => l.msg === 'kernel timing on');
  assert.ok(on !== undefined && (on.c2sOffset as number) > 20_000, `the cut came after initialize: ${JSON.stringify(on)}`);
  const cpu = profileOf(responseLine(lines, 1)); // initialize is id 0
  const expected = 0.3 * HZ;
  assert.ok(Math.abs(cpu.samples - expected) <= 0.2 * expected, `${cpu.samples} ticks for 300 ms of spinning at ${HZ} Hz (${expected.toFixed(1)} expected)`);
  assert.equal(cpu.self[0].fn, 'main.spinOnCPU');
});
