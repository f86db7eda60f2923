// The tax kernel timing puts on every other process: `dd if=/dev/zero of=/dev/null bs=1
// count=N` (2N syscalls of a process lsptap does not watch) alone, and beside one idle
// session with kernel timing on, interleaved. dd's CPU (user+sys) is read from this
// process's reaped-children figure (/proc/self/stat, 10 ms ticks): its wall time would
// count the machine's other load too.

import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import { armEnv } from './first-answer';
import { ECHO_SERVER, type Mode } from './modes';

const TICK_MS = 10;

function reapedCpuMs(): number {
  const f = fs.readFileSync('/proc/self/stat', 'latin1');
  const rest = f.slice(f.lastIndexOf(')') + 2).split(' ');
  return (Number(rest[13]) + Number(rest[14])) * TICK_MS;
}

/** dd's CPU in ms for count one-byte copies (2 × count syscalls). */
export function ddCpuMs(count: number): number {
  const before = reapedCpuMs();
  const r = spawnSync('dd', ['if=/dev/zero', 'of=/dev/null', 'bs=1', `count=${count}`], { stdio: 'ignore' });
  if (r.status !== 0) throw new Error(`syscall tax: dd exited ${r.status}`);
  return reapedCpuMs() - before;
}

async function waitForLog(file: string, needle: string, timeoutMs: number): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (Date.now() < until) {
    try { if (fs.readFileSync(file, 'utf8').includes(needle)) return; } catch { /* not yet */ }
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`syscall tax: ${file} never showed ${needle}`);
}

/** One round: dd alone, then dd beside an idle kernel-timed session (the echo server, no message). */
export async function syscallTax(kernel: Mode, logPath: string, count: number): Promise<{ aloneMs: number; besideMs: number }> {
  const aloneMs = ddCpuMs(count);
  const cmd = kernel.wrap(ECHO_SERVER, logPath);
  const child = spawn(cmd[0], cmd.slice(1), { env: armEnv(), stdio: ['pipe', 'ignore', 'ignore'] });
  try {
    // Its probes watch once session start carries their kernel fields.
    await waitForLog(logPath, '"kernel":{', 30_000);
    const besideMs = ddCpuMs(count);
    return { aloneMs, besideMs };
  } finally {
    child.stdin.end();
    await new Promise<void>((resolve) => { if (child.exitCode !== null) resolve(); else child.once('exit', () => resolve()); });
  }
}
