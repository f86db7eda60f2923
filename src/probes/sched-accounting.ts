// Turns the server's scheduler events into per-thread intervals (on CPU, runnable but
// waiting for a CPU) and answers: in the window [a, b], how much CPU did the server's
// threads use, how long did they wait for a CPU, and for how long was no thread of the
// server on a CPU or runnable (blocked: IO, locks, sleep, or waiting for the next message).
//
// Per thread: switch-in starts an on-CPU interval (closing a runnable one); switch-out ends
// it and starts runnable (preempted) or blocked; a wakeup of a blocked thread starts
// runnable. A thread first seen mid-interval contributes from its first event on.

import { SchedKind, type SchedEvent } from './event-layout';

const enum State { Unknown, OnCpu, Runnable, Blocked }

interface ThreadState { state: State; sinceNs: number }

export interface SchedSplit { cpuNs: number; runqNs: number; blockedNs: number }

/** Intervals older than this (relative to the newest event) are forgotten. */
export const SCHED_HISTORY_NS = 120e9;

export class SchedAccounting {
  private readonly threads = new Map<number, ThreadState>();
  // Closed intervals, in order of their end: [start, end) pairs.
  private cpu: number[] = [];
  private runq: number[] = [];
  private latestNs = 0;
  /** Prune when this many interval bounds are kept; doubles when pruning frees little. */
  private pruneAt = 400_000;
  events = 0;

  add(e: SchedEvent): void {
    this.events++;
    const t = e.tsNs;
    if (t > this.latestNs) this.latestNs = t;
    let th = this.threads.get(e.tid);
    if (th === undefined) { th = { state: State.Unknown, sinceNs: t }; this.threads.set(e.tid, th); }
    if (e.kind === SchedKind.switchIn) {
      if (th.state === State.Runnable) this.runq.push(th.sinceNs, t);
      th.state = State.OnCpu; th.sinceNs = t;
    } else if (e.kind === SchedKind.switchOut) {
      if (th.state === State.OnCpu) this.cpu.push(th.sinceNs, t);
      th.state = e.runnable ? State.Runnable : State.Blocked; th.sinceNs = t;
    } else if (e.kind === SchedKind.wakeup) {
      if (th.state === State.Blocked || th.state === State.Unknown) { th.state = State.Runnable; th.sinceNs = t; }
    }
    if (this.cpu.length + this.runq.length > this.pruneAt) this.prune();
  }

  /** Split [aNs, bNs] for the server's threads. */
  split(aNs: number, bNs: number): SchedSplit {
    if (bNs <= aNs) return { cpuNs: 0, runqNs: 0, blockedNs: 0 };
    const busy: number[] = [];
    const cpuNs = this.overlap(this.cpu, aNs, bNs, busy) + this.openOverlap(State.OnCpu, aNs, bNs, busy);
    const runqNs = this.overlap(this.runq, aNs, bNs, busy) + this.openOverlap(State.Runnable, aNs, bNs, busy);
    return { cpuNs, runqNs, blockedNs: Math.max(0, bNs - aNs - unionLength(busy)) };
  }

  private overlap(list: number[], a: number, b: number, busy: number[]): number {
    // Intervals are appended in order of their end: skip those that ended before a.
    let lo = 0, hi = list.length >> 1;
    while (lo < hi) { const mid = (lo + hi) >> 1; if (list[2 * mid + 1] <= a) lo = mid + 1; else hi = mid; }
    let sum = 0;
    for (let i = 2 * lo; i < list.length; i += 2) {
      const s = Math.max(a, list[i]), e = Math.min(b, list[i + 1]);
      if (e > s) { sum += e - s; busy.push(s, e); }
    }
    return sum;
  }

  private openOverlap(state: State, a: number, b: number, busy: number[]): number {
    let sum = 0;
    for (const th of this.threads.values()) {
      if (th.state !== state) continue;
      const s = Math.max(a, th.sinceNs);
      if (b > s) { sum += b - s; busy.push(s, b); }
    }
    return sum;
  }

  private prune(): void {
    const keepAfter = this.latestNs - SCHED_HISTORY_NS;
    const cut = (list: number[]): number[] => {
      let i = 0;
      while (i < list.length && list[i + 1] < keepAfter) i += 2;
      return i === 0 ? list : list.slice(i);
    };
    this.cpu = cut(this.cpu);
    this.runq = cut(this.runq);
    // A busy server may have more than pruneAt within the history: don't prune per event.
    this.pruneAt = Math.max(400_000, 2 * (this.cpu.length + this.runq.length));
  }
}

function unionLength(pairs: number[]): number {
  const n = pairs.length >> 1;
  if (n === 0) return 0;
  const idx = Array.from({ length: n }, (_, i) => i).sort((x, y) => pairs[2 * x] - pairs[2 * y]);
  let total = 0, curS = pairs[2 * idx[0]], curE = pairs[2 * idx[0] + 1];
  for (let k = 1; k < n; k++) {
    const s = pairs[2 * idx[k]], e = pairs[2 * idx[k] + 1];
    if (s > curE) { total += curE - curS; curS = s; curE = e; } else if (e > curE) curE = e;
  }
  return total + (curE - curS);
}
