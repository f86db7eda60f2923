// What the benchmark reads of a proxy process from /proc while it is alive: CPU time
// (utime+stime, in clock ticks of 10 ms: USER_HZ is 100 on Linux) and memory (VmRSS, VmHWM).

import fs from 'node:fs';

const TICK_US = 10_000;

/** The process's user+sys CPU time so far, in µs; null when it is gone. */
export function cpuUs(pid: number): number | null {
  let stat: string;
  try { stat = fs.readFileSync(`/proc/${pid}/stat`, 'latin1'); } catch { return null; }
  // Field 2 (comm) may hold spaces; count fields after its closing parenthesis.
  const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const utime = Number(rest[11]);
  const stime = Number(rest[12]);
  return (utime + stime) * TICK_US;
}

export interface MemoryKb { rssKb: number; hwmKb: number }

/** Resident and peak resident memory, in kB; null when the process is gone. */
export function memoryKb(pid: number): MemoryKb | null {
  let status: string;
  try { status = fs.readFileSync(`/proc/${pid}/status`, 'latin1'); } catch { return null; }
  const field = (name: string): number => {
    const m = new RegExp(`^${name}:\\s*(\\d+) kB`, 'm').exec(status);
    return m === null ? NaN : Number(m[1]);
  };
  return { rssKb: field('VmRSS'), hwmKb: field('VmHWM') };
}

/** Samples a process's CPU time every intervalMs and keeps the last value seen alive. */
export class CpuSampler {
  private lastUs: number | null;
  private readonly timer: NodeJS.Timeout;
  constructor(private readonly pid: number, intervalMs = 20) {
    this.lastUs = cpuUs(pid);
    this.timer = setInterval(() => { const v = cpuUs(this.pid); if (v !== null) this.lastUs = v; }, intervalMs);
    this.timer.unref();
  }
  stop(): number | null {
    clearInterval(this.timer);
    const v = cpuUs(this.pid);
    return v ?? this.lastUs;
  }
}
