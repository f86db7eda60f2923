// lsptap's kernel fields against an independent trace of the same session: bpftrace
// (test/fixtures/server-windows.bt, classic tracepoints only, none of lsptap's code) watches
// the server and measures each request's window, the CPU its threads used in it, and the
// bytes it read and wrote on its stdin/stdout; lsptap's log must say the same.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { spawn } from 'node:child_process';
import { readLog, tmpDir, waitFor, fixtures, type LogLine } from './helpers/index';
import { bpfSkipReason, startSession, endSession, responseLine, kernelOf } from './helpers/kernel';
import { missingCommand, skipUnless } from './helpers/capabilities';

const skip = skipUnless(bpfSkipReason() || missingCommand('bpftrace', ['--version'])).skip;

interface Trace { windowNs: number[]; cpuNs: number[]; readBytes: number; writeBytes: number }

/** bpftrace's END output: the io line and the @wns/@wcpu maps, indexed by window. */
function parseTrace(out: string): Trace {
  const io = /^io (\d+) (\d+) (\d+) (\d+)$/m.exec(out);
  assert.ok(io !== null, `no io line in bpftrace's output:\n${out}`);
  const map = (name: string): number[] => {
    const values: number[] = [];
    for (const m of out.matchAll(new RegExp(`^@${name}\\[(\\d+)\\]: (\\d+)$`, 'gm'))) values[Number(m[1])] = Number(m[2]);
    return values;
  };
  return { windowNs: map('wns'), cpuNs: map('wcpu'), readBytes: Number(io[1]), writeBytes: Number(io[2]) };
}

test('the server\'s request windows, their CPU and its stdin/stdout bytes agree with an independent bpftrace trace', { skip, timeout: 120_000 }, async (t) => {
  const dir = tmpDir(t, { worldWritable: true });
  const log = path.join(dir, 'log.jsonl');
  const run = await startSession(t, ['--log', log, '--bpf=require']);
  const serverPid = readLog(log).find((l) => l.msg === 'session start')?.serverPid;
  assert.equal(typeof serverPid, 'number', 'session start has serverPid');

  // bpftrace takes a second or more to attach: nothing is sent before its BEGIN line.
  const bt = spawn('bpftrace', [path.join(fixtures, 'server-windows.bt'), String(serverPid)], { stdio: ['ignore', 'pipe', 'pipe'] });
  t.after(() => { if (bt.exitCode === null) bt.kill('SIGKILL'); });
  let out = '', err = '';
  bt.stdout.on('data', (b: Buffer) => { out += b.toString(); });
  bt.stderr.on('data', (b: Buffer) => { err += b.toString(); });
  const btExited = new Promise<number | null>((resolve) => bt.once('exit', (code) => resolve(code)));
  await waitFor(() => out.includes('attached\n') || bt.exitCode !== null, 60_000, 'bpftrace to attach');
  assert.ok(out.includes('attached\n'), `bpftrace did not attach: ${err}`);

  // One request at a time, doing known work: CPU, a sleep, next to nothing.
  const work: Array<[string, object]> = [['test/echo', {}], ['test/spin', { ms: 120 }], ['test/sleep', { ms: 100 }], ['test/spin', { ms: 60 }], ['test/echo', { pad: 'x'.repeat(20_000) }], ['test/spin', { ms: 30 }]];
  for (const [method, params] of work) await run.conn.sendRequest(method, params);
  const end = await endSession(run);
  assert.equal(end.code, 0, end.stderr);
  bt.kill('SIGINT');
  assert.equal(await btExited, 0, err);
  const trace = parseTrace(out);

  const lines = readLog(log);
  // The windows are the requests in order: the work, then shutdown.
  assert.equal(trace.windowNs.length, work.length + 1, `bpftrace saw ${trace.windowNs.length} windows:\n${out}`);
  const figures: string[] = [];
  for (let id = 0; id < work.length + 1; id++) {
    const k = kernelOf(responseLine(lines, id));
    const lsptapCpuUs = k.serverCpuUs!, btCpuUs = trace.cpuNs[id] / 1000;
    const lsptapWindowUs = k.serverUs!, btWindowUs = trace.windowNs[id] / 1000;
    figures.push(`id ${id}: serverUs ${lsptapWindowUs} vs ${btWindowUs.toFixed(0)}, serverCpuUs ${lsptapCpuUs} vs ${btCpuUs.toFixed(0)}`);
    // Both stamp the same two syscalls (the read's return, the write's entry) with the same
    // clock; they differ only by the probes' own run time and the rounding to µs.
    assert.ok(Math.abs(lsptapWindowUs - btWindowUs) <= 100, `serverUs of id ${id}: lsptap ${lsptapWindowUs}, bpftrace ${btWindowUs}\n${figures.join('\n')}`);
    // CPU: both add up on-CPU intervals of every server thread between switches, clipped to
    // the window; a switch stamped by one tool's probe a few µs from the other's and an
    // interval cut at an edge by one and not the other make small differences: 100 µs or 1%
    // (seen: at most 204 µs on 121 ms, 0.17%).
    assert.ok(Math.abs(lsptapCpuUs - btCpuUs) <= Math.max(100, 0.01 * btCpuUs), `serverCpuUs of id ${id}: lsptap ${lsptapCpuUs}, bpftrace ${btCpuUs}\n${figures.join('\n')}`);
  }
  // The spins did their work in the window: the comparison is not between two zeros.
  assert.ok(trace.cpuNs[1] / 1000 >= 100_000, figures.join('\n'));

  // Every byte the editor sent after the server was watched, the server read from its
  // stdin; every byte it answered, it wrote to its stdout: lsptap's counts, exactly.
  const counts = (lines.find((l) => l.msg === 'session end') as LogLine & { counts: Record<string, { bytes: number }> }).counts;
  assert.equal(trace.readBytes, counts.c2s.bytes, 'bytes the server read on fd 0');
  assert.equal(trace.writeBytes, counts.s2c.bytes, 'bytes the server wrote on fd 1');
  t.diagnostic(figures.join('; '));
});
