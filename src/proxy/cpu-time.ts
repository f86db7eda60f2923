// CPU time for `session end`: lsptap's own (both threads, from the process's rusage) and the
// server's, read from /proc. A reaped child's CPU, with that of every descendant it reaped,
// is added to its parent's cutime/cstime (in USER_HZ ticks, 10 ms on Linux): once Node has
// reaped the server, that is the only place its CPU is left.
//
// The stat files are opened when a session starts and re-read in place (pread at 0): a file
// opened at its end would take the number of an fd the session just closed, which kernel
// timing still watches (a stray read in its counts).

import fs from 'node:fs';

const TICK_MS = 10;

/** lsptap's user+system CPU since it started, all threads, in ms. */
export function ownCpuMs(): number {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1000;
}

/** /proc/PID/stat held open: utime+stime (withOwn) and cutime+cstime, in ms. */
export class ProcStat {
  private fd: number | null;
  private readonly buf = Buffer.alloc(1024);

  constructor(pid: number | 'self', private readonly withOwn: boolean) {
    try { this.fd = fs.openSync(`/proc/${pid}/stat`, 'r'); } catch { this.fd = null; }
  }

  /** The CPU in ms, or null when the process is gone or the file could not be read. */
  cpuMs(): number | null {
    if (this.fd === null) return null;
    let text: string;
    try { text = this.buf.toString('latin1', 0, fs.readSync(this.fd, this.buf, 0, this.buf.length, 0)); } catch { return null; }
    // comm (field 2) may hold spaces and parentheses: count from after its last ')'.
    const f = text.slice(text.lastIndexOf(')') + 2).split(' ');
    const ticks = (this.withOwn ? Number(f[11]) + Number(f[12]) : 0) + Number(f[13]) + Number(f[14]);
    return Number.isFinite(ticks) ? ticks * TICK_MS : null;
  }

  close(): void {
    if (this.fd !== null) { try { fs.closeSync(this.fd); } catch { /* already closed */ } }
    this.fd = null;
  }
}
