// The start-up workload: what a session that does nothing (`-- true`) costs in wall time and
// CPU, and what `gopls version` costs through the shim (vscode-go runs it at every start).
// Each repeat runs every command startupRuns times, one after the other, and reports the
// median wall time and the mean CPU. CPU is read from our own /proc/self/stat: a child's
// user+sys time is added to cutime/cstime when it is reaped, with all its threads and
// its own children (chrt, ss, the server), in 10 ms ticks, so it is summed over the runs.

import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { REPO_ROOT, type Mode } from './modes';
import { median } from './stats';
import type { RunFigures, WorkloadSizes } from './workloads';

const TICK_MS = 10;

/** CPU time of every reaped child of this process so far, in ms. */
function childrenCpuMs(): number {
  const stat = fs.readFileSync('/proc/self/stat', 'latin1');
  const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(rest[13]) + Number(rest[14])) * TICK_MS;
}

/** Run a command to its exit, n times: median wall ms and mean CPU ms. */
function timeRuns(cmd: string[], n: number): { wallMs: number; cpuMs: number } {
  const walls: number[] = [];
  const cpu0 = childrenCpuMs();
  for (let i = 0; i < n; i++) {
    const t0 = process.hrtime.bigint();
    const r = spawnSync(cmd[0], cmd.slice(1), { stdio: ['ignore', 'ignore', 'pipe'], timeout: 30_000 });
    walls.push(Number(process.hrtime.bigint() - t0) / 1e6);
    if (r.status !== 0) throw new Error(`startup: ${cmd.join(' ')} exited ${r.status}: ${String(r.stderr).trim()}`);
  }
  return { wallMs: median(walls), cpuMs: (childrenCpuMs() - cpu0) / n };
}

/** A directory holding `gopls` → bin/lsptap, as `lsptap install-shim` makes it. */
export function makeShim(dir: string): string {
  const shim = path.join(dir, 'gopls');
  if (!fs.existsSync(shim)) fs.symlinkSync(path.join(REPO_ROOT, 'bin', 'lsptap'), shim);
  return shim;
}

/**
 * trueWallMs/trueCpuMs: the mode around `true`; goplsVersionMs: `gopls version` run the
 * way the mode runs gopls (lsptap: through the shim, which runs it plainly).
 */
export function startup(mode: Mode, logPath: string, sizes: WorkloadSizes, shim: string, goplsOk: boolean): RunFigures {
  const n = sizes.startupRuns;
  const figures: RunFigures = {};
  if (mode.name !== 'direct') {
    const t = timeRuns(mode.wrap(['true'], logPath), n);
    figures.trueWallMs = t.wallMs;
    figures.trueCpuMs = t.cpuMs;
  }
  if (goplsOk && mode.name !== 'floor' && mode.name !== 'lsptap-kernel') {
    const cmd = mode.name === 'lsptap' ? [process.execPath, shim, 'version'] : mode.wrap(['gopls', 'version'], logPath);
    figures.goplsVersionMs = timeRuns(cmd, n).wallMs;
  }
  return figures;
}
