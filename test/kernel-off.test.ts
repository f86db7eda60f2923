// Kernel timing must not change what the relay does: with BPF on, with --bpf=off, and with
// BPF refused by the kernel (a user without capabilities), the client gets the same bytes,
// the log has the same lines apart from `kernel`, and lsptap exits with the same code.
// Also: --bpf=require refuses clearly, and the capability advice it gives works.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { execFileSync, spawnSync } from 'node:child_process';
import { readLog, lsptapBin, type LogLine, tmpDir } from './helpers/index';
import { bpfSkipReason, startSession, responseLine, kernelOf } from './helpers/kernel';

const skip = bpfSkipReason();
const NOBODY = ['setpriv', '--reuid=65534', '--regid=65534', '--clear-groups'];

function asNobodySkip(): string | false {
  let reason: string | false = false;
  if (process.getuid?.() !== 0) reason = 'needs root to run lsptap as another user';
  else {
    try { execFileSync('setpriv', ['--version'], { stdio: 'ignore' }); } catch { reason = 'setpriv (util-linux) is not installed'; }
  }
  if (reason !== false && process.env.CI === 'true') assert.fail(`CI=true (run as root after scripts/setup.sh): ${reason}`);
  return reason;
}

/** The same scripted session every time; returns what can be compared across runs. */
async function scripted(t: Parameters<typeof tmpDir>[0], bpf: string, prefix?: string[]): Promise<{ sha256: string; code: number | null; lines: LogLine[]; stderr: string }> {
  const log = path.join(tmpDir(t, { worldWritable: true }), 'log.jsonl');
  const run = await startSession(t, ['--log', log, `--bpf=${bpf}`], { prefix });
  for (let i = 0; i < 5; i++) await run.conn.sendRequest('test/echo', { i, text: 'x'.repeat(i * 1000) });
  await run.conn.sendRequest('test/sleep', { ms: 20 });
  await run.conn.sendRequest('shutdown');
  await run.conn.sendNotification('exit', { code: 3 });
  const end = await run.exited;
  return { sha256: crypto.createHash('sha256').update(Buffer.concat(run.received)).digest('hex'), code: end.code, lines: readLog(log), stderr: run.stderr() };
}

/** Log lines without what differs run to run (times, CPU, pids, session ids) or by design (`kernel`, `profileFile`, and `clock`: who took the times). */
function comparable(lines: LogLine[]): unknown[] {
  const volatile = new Set(['time', 'pid', 'session', 'serverPid', 'logPath', 'startNs', 'startTime', 'firstByteMs', 'lastByteMs', 'forwardedMs', 'latencyMs', 'clock', 'kernel', 'summary', 'lsptapCpuMs', 'serverCpuMs', 'profileFile']);
  return lines.filter((l) => l.msg !== 'kernel timing off' && l.msg !== 'kernel timing on').map((l) => Object.fromEntries(Object.entries(l).filter(([k]) => !volatile.has(k))));
}

test('with --bpf=off, BPF on, and BPF refused, the bytes, the log lines (but kernel) and the exit code are the same', { skip: skip || asNobodySkip(), timeout: 60_000 }, async (t) => {
  const on = await scripted(t, 'require');
  const off = await scripted(t, 'off');
  const refused = await scripted(t, 'auto', [...NOBODY, process.execPath]);
  assert.equal(on.code, 3);
  assert.ok(kernelOf(responseLine(on.lines, 0)).serverUs !== undefined, 'BPF was on');
  for (const [name, other] of [['off', off], ['refused', refused]] as const) {
    assert.equal(other.code, on.code, `${name}: exit code`);
    assert.equal(other.sha256, on.sha256, `${name}: bytes the client received`);
    assert.deepEqual(comparable(other.lines), comparable(on.lines), `${name}: log lines`);
    assert.ok(other.lines.every((l) => l.kernel === undefined), `${name}: no kernel fields`);
  }
  assert.equal(off.lines.filter((l) => l.level === 40).length, 0, '--bpf=off is silent');
  const warns = refused.lines.filter((l) => l.msg === 'kernel timing off');
  assert.equal(warns.length, 1, 'one warn line when BPF is refused');
  assert.equal(warns[0].level, 40);
  assert.match(String(warns[0].reason), /EPERM.*cap_bpf,cap_perfmon/);
  assert.equal(refused.lines[0].msg, 'session start', 'the warn line follows session start');
  assert.equal(refused.lines[1].msg, 'kernel timing off');
});

test('--bpf=require as a user without capabilities exits 1 before starting the server and says what to grant', { skip: asNobodySkip() }, (t) => {
  const dir = tmpDir(t, { worldWritable: true });
  const marker = path.join(dir, 'server-started');
  const r = spawnSync(NOBODY[0], [...NOBODY.slice(1), process.execPath, lsptapBin, '--log', path.join(dir, 'log.jsonl'), '--bpf=require', '--', 'touch', marker], { encoding: 'utf8', input: '' });
  assert.equal(r.status, 1, r.stderr);
  assert.equal(r.stdout, '');
  assert.match(r.stderr, /^lsptap: --bpf=require: kernel timing cannot start: load failed \(EPERM, errno 1\).*run lsptap as root, or .*setcap cap_bpf,cap_perfmon\+ep/);
  assert.equal(r.stderr.trim().split('\n').length, 1, 'one sentence');
  assert.equal(fs.existsSync(marker), false, 'the server was not started');
});

test('the advice works: a copy of node with cap_bpf,cap_perfmon runs kernel timing as a user without root', { skip: skip || asNobodySkip(), timeout: 60_000 }, async (t) => {
  const dir = tmpDir(t, { worldWritable: true });
  const nodeCopy = path.join(dir, 'node-bpf');
  fs.copyFileSync(process.execPath, nodeCopy);
  fs.chmodSync(nodeCopy, 0o755);
  execFileSync('setcap', ['cap_bpf,cap_perfmon+ep', nodeCopy]);
  const res = await scripted(t, 'require', [...NOBODY, nodeCopy]);
  assert.equal(res.code, 3, res.stderr);
  const k = kernelOf(responseLine(res.lines, 5));
  assert.ok(typeof k.serverUs === 'number' && k.serverUs >= 15_000, `serverUs ${String(k.serverUs)} for a 20 ms sleep`);
});
