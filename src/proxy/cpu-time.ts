// CPU time for `session end`: lsptap's own (both threads, from the process's rusage) and the
// server's, read from /proc. A reaped child's CPU, with that of every descendant it reaped,
// is added to its parent's cutime/cstime (in USER_HZ ticks, 10 ms on Linux): once Node has
// reaped the server, that is the only place its CPU is left.

import fs from 'node:fs';

const TICK_MS = 10;

/** lsptap's user+system CPU since it started, all threads, in ms. */
export function ownCpuMs(): number {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1000;
}

/** Fields 14-17 of /proc/PID/stat (utime, stime, cutime, cstime) in ms; null when it cannot be read. */
function statCpuMs(pid: number | 'self', withOwn: boolean): number | null {
  let stat: string;
  try { stat = fs.readFileSync(`/proc/${pid}/stat`, 'latin1'); } catch { return null; }
  // comm (field 2) may hold spaces and parentheses: count from after its last ')'.
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const ticks = (withOwn ? Number(f[11]) + Number(f[12]) : 0) + Number(f[13]) + Number(f[14]);
  return Number.isFinite(ticks) ? ticks * TICK_MS : null;
}

/** CPU of every child lsptap has reaped so far, with their reaped descendants, in ms. */
export function reapedChildrenCpuMs(): number | null { return statCpuMs('self', false); }

/** A live process's CPU so far, its reaped descendants' included, in ms; null when it is gone. */
export function processCpuMs(pid: number): number | null { return statCpuMs(pid, true); }
