// The tax kernel timing puts on every other process: `dd if=/dev/zero of=/dev/null bs=1
// count=N` (2N syscalls of a process lsptap does not watch) alone, and beside one idle
// session with kernel timing on, interleaved. dd's CPU (user+sys) is read from this
// process's reaped-children figure (/proc/self/stat, 10 ms ticks): its wall time would
// count the machine's other load too. Each round also runs dd beside empty programs on
// tp_btf/sys_enter and sys_exit (bench/tax-floor.ts's `empty-btf` arm): the floor any
// program there costs every syscall, which no first test can go under.

import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import { armEnv } from './first-answer';
import { ECHO_SERVER, type Mode } from './modes';
import { TAX_ARMS, buildTaxTools, syscallLoop, withArm } from './tax-floor';

const FLOOR_ARM = TAX_ARMS.find((a) => a.name === 'empty-btf')!;
/** Batches of the syscall loop per arm (256 read+write pairs each). */
const LOOP_BATCHES = 600;

/** Whether the floor arm can run here (clang, gcc, libbpf-dev); the reason when not. */
export function taxFloorAvailable(): string | null {
  try { buildTaxTools(); return null; } catch (err) {
    const e = err as { stderr?: Buffer; message: string };
    return (e.stderr?.toString() || e.message).trim().split('\n')[0];
  }
}

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

/** One arm of a round: dd's CPU ms, and (when the loop was built) the loop's fastest read/write ns. */
export interface TaxArmRun { ddMs: number; loopNs: number | null }

function arm(count: number, withLoop: boolean): TaxArmRun {
  return { ddMs: ddCpuMs(count), loopNs: withLoop ? syscallLoop(LOOP_BATCHES).readWriteNs : null };
}

/**
 * One round: dd alone, beside empty programs (when withTools: bench/tax-floor.ts's loader
 * and loop were built), then beside an idle kernel-timed session (the echo server, no
 * message). With the tools, each arm also runs the syscall loop: the fastest of many short
 * batches, which a loaded machine's noise does not move as it moves dd's CPU.
 */
export async function syscallTax(kernel: Mode, logPath: string, count: number, withTools: boolean): Promise<{ alone: TaxArmRun; floor: TaxArmRun | null; beside: TaxArmRun }> {
  const alone = arm(count, withTools);
  const floor = withTools ? await withArm(FLOOR_ARM, () => arm(count, true)) : null;
  const cmd = kernel.wrap(ECHO_SERVER, logPath);
  const child = spawn(cmd[0], cmd.slice(1), { env: armEnv(), stdio: ['pipe', 'ignore', 'ignore'] });
  try {
    // Its probes watch once session start carries their kernel fields.
    await waitForLog(logPath, '"kernel":{', 30_000);
    return { alone, floor, beside: arm(count, withTools) };
  } finally {
    child.stdin.end();
    await new Promise<void>((resolve) => { if (child.exitCode !== null) resolve(); else child.once('exit', () => resolve()); });
  }
}
