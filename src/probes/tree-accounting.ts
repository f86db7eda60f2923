// What the server and its descendants did inside a request's window, from the tree ring
// (bpf/tree.bpf.c). The kernel keeps running totals; it snapshots them as the server's read
// of a stream fd returns and as its write begins, so a window [the server's read of the
// request, its write of the response] is the difference of two snapshots, found here by
// time and thread. Descendants come as exec and exit records. The server's fd table stays
// in the kernel (map server_fds): its count is in every snapshot, so a request's end count
// is in its write snapshot, and the fds still open are read from the map at the end.

import { CAUSE_SYSCALL, IDLE_CAUSES, TreeMode, type ServerFd, type TreeEvent, type TreeExec, type TreeExit, type TreeSnapshot, type TreeTotals } from './event-layout';
import type { KernelChild, FdReport, OpenFd } from '../model/record';
import type { RunningProcess } from './peer-process';

const us = (ns: number): number => Math.round(ns / 1e3);

/** A snapshot matches the io event of the same syscall within this of its timestamp. */
const MATCH_NS = 1e6;
/**
 * Snapshots, descendants and fd-opening windows kept at most, when the stage cannot forget
 * them sooner (forgetBefore: a request that is never answered holds the snapshots from its
 * read on); older ones are forgotten then (their windows get null fields).
 */
export const TREE_KEPT = 100_000;
/** Children listed per window at most (the earliest first); childCpuUs counts them all. */
export const CHILDREN_LISTED = 32;
/** Argument bytes the kernel copies at exec (bpf/tree.h TREE_ARGS_LEN). */
export const ARGS_BYTES = 256;

/** The fields a window gets; every value in µs or a count. */
export interface TreeWindow {
  serverCpuUs: number;
  serverRunqUs: number;
  serverBlockedUs: number;
  blockedOnChildUs: number;
  blockedOnDiskUs: number;
  blockedOtherUs: number;
  blockedOtherOn: string | null;
  childCpuUs: number;
  childDiskUs: number;
  children: KernelChild[];
  fileReads: number;
  fileReadBytes: number;
  pageCacheMisses: number;
  diskIos: number;
  diskIoBytes: number;
  diskIoUs: number;
  fdsOpened: number;
  fdsClosed: number;
}

/** adopted: running when watching began (alreadyRunning), not forked since. */
interface Proc { pid: number; ppid: number | null; comm: string; path: string | null; args: string[]; startNs: number; endNs: number | null; cpuNs: number | null; status: number | null; adopted?: boolean }

interface Window { startNs: number; endNs: number; method: string | null; id: string | number | null }

/** Syscall names for `blockedOtherOn` when the wait was none of the named causes (x86-64). */
const SYSCALL_NAMES: Record<number, string> = { 7: 'poll', 61: 'wait4', 202: 'futex', 230: 'clock_nanosleep', 232: 'epoll_wait', 247: 'waitid', 281: 'epoll_pwait', 3: 'close', 4: 'stat', 5: 'fstat', 257: 'openat', 1: 'write', 0: 'read', 17: 'pread64', 318: 'getrandom' };

export class TreeAccounting {
  private readonly reads = new SnapshotList();
  private readonly writes = new SnapshotList();
  /** Descendants, in the order they appeared; the ones that ended before any window still to come are forgotten. */
  private procs: Proc[] = [];
  private readonly live = new Map<number, Proc>();
  /** Answered requests' windows in which the server opened fds: what fdReport names an fd's request from. */
  private readonly windows: Window[] = [];
  /** The server's open fd count at the end of each answered request, as a trend. */
  private readonly fdTrend = new FdTrend();
  /** Where the kernel lost tree records (lost()): from the last record before to the first after. */
  private gaps: Array<{ startNs: number; endNs: number | null }> = [];
  events = 0;

  /**
   * serverPid: the root of the tree; startFds: how many fds it had open when watching
   * began, as put in server_fds (the snapshots' fdsOpenDelta counts from there).
   */
  constructor(private readonly serverPid: number, private readonly startFds: number, private readonly startNs: number) {}

  /**
   * The kernel lost tree records after afterNs (the ring was full) until the next record
   * arrives: a window edge inside that gap may have lost its snapshot, and a neighbour's
   * would give wrong figures, so it gets none (null fields).
   */
  lost(afterNs: number): void {
    const open = this.gaps.length > 0 ? this.gaps[this.gaps.length - 1] : undefined;
    if (open !== undefined && open.endNs === null) return;
    this.gaps.push({ startNs: afterNs, endNs: null });
  }

  /** True when a record stamped tsNs may have been lost (it falls in a gap, or just after one). */
  private inGap(tsNs: number): boolean {
    for (let i = this.gaps.length - 1; i >= 0; i--) {
      const g = this.gaps[i];
      if (tsNs > g.startNs && (g.endNs === null || tsNs < g.endNs + MATCH_NS)) return true;
      if (g.endNs !== null && g.endNs + MATCH_NS < tsNs) break; // gaps are in time order
    }
    return false;
  }

  add(e: TreeEvent): void {
    this.events++;
    const open = this.gaps.length > 0 ? this.gaps[this.gaps.length - 1] : undefined;
    if (open !== undefined && open.endNs === null) open.endNs = e.tsNs;
    if (e.kind === 'snapshot') (e.write ? this.writes : this.reads).push(e);
    else if (e.kind === 'exec') this.exec(e);
    else this.exit(e);
  }

  /**
   * Descendants that were running when watching began (found in /proc): listed in windows
   * as forked ones are. Their CPU counts from the kernel's first sight of them (it gives each
   * a slot then, bpf/tree.bpf.c adopt()), so a window edge before that counts it as 0.
   */
  alreadyRunning(found: readonly RunningProcess[]): void {
    for (const f of found) {
      if (this.live.has(f.pid)) continue;
      const p: Proc = { pid: f.pid, ppid: f.ppid, comm: f.comm, path: f.path, args: f.args, startNs: f.startNs, endNs: null, cpuNs: null, status: null, adopted: true };
      this.live.set(f.pid, p);
      push(this.procs, p);
    }
  }

  private exec(e: TreeExec): void {
    // An exec replaces the process image: a second exec of the same pid updates the entry.
    let p = this.live.get(e.pid);
    if (p === undefined) {
      p = { pid: e.pid, ppid: e.ppid, comm: e.comm, path: null, args: [], startNs: e.startNs || e.tsNs, endNs: null, cpuNs: null, status: null };
      this.live.set(e.pid, p);
      push(this.procs, p);
    }
    p.ppid = e.ppid; p.comm = e.comm; p.path = e.path; p.args = e.args;
  }

  private exit(e: TreeExit): void {
    let p = this.live.get(e.pid);
    if (p === undefined) {
      // Forked and ended without an exec (Go's fork-exec that failed, a shell subshell).
      p = { pid: e.pid, ppid: null, comm: e.comm, path: null, args: [], startNs: e.startNs || e.tsNs, endNs: null, cpuNs: null, status: null };
      push(this.procs, p);
    }
    this.live.delete(e.pid);
    p.endNs = e.tsNs; p.cpuNs = e.cpuNs; p.status = e.status;
  }

  /**
   * The snapshot of the server's read (or write) of its stream fd at tsNs (the io event's
   * time; both programs run in the same tracepoint call, so within µs), or null.
   */
  private snapshotAt(list: SnapshotList, tsNs: number): TreeSnapshot | null {
    if (this.gaps.length > 0 && this.inGap(tsNs)) return null;
    return list.nearest(tsNs, MATCH_NS);
  }

  /**
   * No window still to be asked for starts before readNs or ends before writeNs (the
   * stage's bounds, in the order the server read and wrote): forget the snapshots, the
   * ended descendants and the gaps that only earlier windows could use.
   */
  forgetBefore(readNs: number, writeNs: number): void {
    this.reads.forgetBefore(readNs - MATCH_NS);
    this.writes.forgetBefore(writeNs - MATCH_NS);
    const ns = Math.min(readNs, writeNs) - MATCH_NS;
    if (this.procs.some((p) => p.endNs !== null && p.endNs < ns)) this.procs = this.procs.filter((p) => p.endNs === null || p.endNs >= ns);
    if (this.gaps.length > 0 && this.gaps[0].endNs !== null && this.gaps[0].endNs + MATCH_NS < ns) this.gaps = this.gaps.filter((g) => g.endNs === null || g.endNs + MATCH_NS >= ns);
  }

  /** What is kept: snapshots (read and write), descendants, fd-opening windows. */
  get kept(): { snapshots: number; procs: number; windows: number } {
    return { snapshots: this.reads.kept + this.writes.kept, procs: this.procs.length, windows: this.windows.length };
  }

  /**
   * The tree's work between the server's read of its input that returned at readNs and
   * its write of its output that began at writeNs; null when a snapshot is missing.
   */
  window(readNs: number, writeNs: number, request: { method: string | null; id: string | number | null }): TreeWindow | null {
    const a = this.snapshotAt(this.reads, readNs);
    const b = this.snapshotAt(this.writes, writeNs);
    if (a === null || b === null || b.tsNs < a.tsNs) return null;
    // Only a window in which the server opened an fd can be the one an fd still open was opened in.
    if (b.totals.fdsOpened > a.totals.fdsOpened || b.totals.fdsOpenDelta !== a.totals.fdsOpenDelta) push(this.windows, { startNs: a.tsNs, endNs: b.tsNs, method: request.method, id: request.id });
    this.fdTrend.add(this.startFds + b.totals.fdsOpenDelta);
    const d = (f: (t: TreeTotals) => number): number => Math.max(0, f(b.totals) - f(a.totals));
    const onChild = d((t) => t.modeNs[TreeMode.idleChild]);
    const onDisk = d((t) => t.modeNs[TreeMode.idleDisk]);
    const other = d((t) => t.modeNs[TreeMode.idleOther]);
    return {
      serverCpuUs: us(d((t) => t.serverCpuNs)),
      serverRunqUs: us(d((t) => t.serverRunqNs)),
      // The parts are rounded first so that they add up to the whole exactly.
      serverBlockedUs: us(onChild) + us(onDisk) + us(other),
      blockedOnChildUs: us(onChild),
      blockedOnDiskUs: us(onDisk),
      blockedOtherUs: us(other),
      blockedOtherOn: dominantCause(a.totals, b.totals, other),
      childCpuUs: us(d((t) => t.childCpuNs)),
      childDiskUs: us(d((t) => t.childDiskNs)),
      children: this.childrenIn(a, b),
      fileReads: d((t) => t.fileReads),
      fileReadBytes: d((t) => t.fileReadBytes),
      pageCacheMisses: d((t) => t.pageCacheMisses),
      diskIos: d((t) => t.diskIos),
      diskIoBytes: d((t) => t.diskIoBytes),
      diskIoUs: us(d((t) => t.diskIoNs)),
      fdsOpened: d((t) => t.fdsOpened),
      fdsClosed: d((t) => t.fdsClosed),
    };
  }

  /**
   * Descendants alive at some point of the window [a, b], the earliest first, each with its
   * time alive and its CPU inside the window: its CPU so far at an edge is its child slot in
   * that snapshot (0 before its fork; its exit record's total after its exit), so a child
   * alive across the whole window (tsserver, jedi's helper) gets the difference. Null CPU
   * when an edge it lived across found it without a slot (all were taken at its fork).
   */
  private childrenIn(a: TreeSnapshot, b: TreeSnapshot): KernelChild[] {
    const aNs = a.tsNs, bNs = b.tsNs;
    const out: KernelChild[] = [];
    for (const p of this.procs) {
      if (p.startNs > bNs || (p.endNs !== null && p.endNs < aNs)) continue;
      if (out.length >= CHILDREN_LISTED) break;
      const exited = p.endNs !== null && p.endNs <= bNs;
      const cpuA = p.startNs >= aNs ? 0 : a.childCpuNs.get(p.pid) ?? (p.adopted === true && b.childCpuNs.has(p.pid) ? 0 : null);
      const cpuB = exited ? p.cpuNs : b.childCpuNs.get(p.pid) ?? null;
      out.push({
        pid: p.pid, comm: p.comm, path: p.path, args: truncateArgs(p.args),
        startUs: Math.round((p.startNs - aNs) / 1000),
        wallUs: us((exited ? p.endNs! : bNs) - Math.max(p.startNs, aNs)),
        cpuUs: cpuA !== null && cpuB !== null ? us(Math.max(0, cpuB - cpuA)) : null,
        exitCode: exited && p.status !== null && (p.status & 0x7f) === 0 ? (p.status >> 8) & 0xff : null,
        signal: exited && p.status !== null && (p.status & 0x7f) !== 0 ? p.status & 0x7f : null,
      });
    }
    return out;
  }

  /**
   * The server's fd report for `session end`, from the kernel's fd table at the end (table:
   * server_fds's entries; peakDelta: the highest fdsOpenDelta); fdGrowth when its count
   * kept rising across requests.
   */
  fdReport(table: ServerFd[], peakDelta: number): FdReport {
    const mine = table.filter((o) => o.pid === this.serverPid);
    // Opened during the session: the ones open when watching began have openedNs 0.
    const stillOpen: OpenFd[] = mine.filter((o) => o.openedNs !== 0).sort((x, y) => x.fd - y.fd).map((o) => {
      const w = this.windowAt(o.openedNs);
      return { fd: o.fd, path: o.path === '' ? null : o.path, atMs: Math.round((o.openedNs - this.startNs) / 1e4) / 100, method: w?.method ?? null, id: w?.id ?? null };
    });
    // The end is the last answered request: a server's exit closes fds that it leaked (the
    // kernel's exit closes them without a close syscall, so the table keeps them).
    const endCount = this.fdTrend.last ?? mine.length;
    return { startCount: this.startFds, peakCount: this.startFds + Math.max(0, peakDelta), endCount, stillOpen, growth: this.fdTrend.growth() };
  }

  /**
   * The request being handled at tsNs: of the windows around it, the one answered first
   * (pipelined requests' windows all start at the read that brought them).
   */
  private windowAt(tsNs: number): Window | null {
    let best: Window | null = null;
    for (const w of this.windows) if (w.startNs <= tsNs && tsNs <= w.endNs && (best === null || w.endNs < best.endNs)) best = w;
    return best;
  }
}

/** Where one cause makes up at least half of the idle-other time, its name. */
function dominantCause(a: TreeTotals, b: TreeTotals, otherNs: number): string | null {
  if (otherNs <= 0) return null;
  let best = 0, bestNs = 0;
  for (let i = 1; i < IDLE_CAUSES.length; i++) {
    const ns = b.causeNs[i] - a.causeNs[i];
    if (ns > bestNs) { best = i; bestNs = ns; }
  }
  if (best === 0 || bestNs * 2 < otherNs) return null;
  if (best === CAUSE_SYSCALL) return SYSCALL_NAMES[b.lastOtherNr] ?? `syscall ${b.lastOtherNr}`;
  return IDLE_CAUSES[best];
}

/**
 * Growth: the count at the end of a request rose over at least 5 requests, never fell,
 * and ended at least 5 above where it was at the first. A server that opens and closes
 * files in each request stays flat. Kept as a running trend, not the samples: a day of
 * editing answers millions of requests.
 */
export class FdTrend {
  private first: number | null = null;
  last: number | null = null;
  private rises = 0;
  private fell = false;

  add(count: number): void {
    if (this.last === null) this.first = count;
    else if (count < this.last) this.fell = true;
    else if (count > this.last) this.rises++;
    this.last = count;
  }

  growth(): { rises: number; from: number; to: number } | null {
    if (this.first === null || this.last === null || this.fell) return null;
    return this.rises >= 5 && this.last - this.first >= 5 ? { rises: this.rises, from: this.first, to: this.last } : null;
  }
}

function truncateArgs(args: string[]): string[] {
  // The kernel copies at most ARGS_BYTES of the argument area: mark a cut last argument.
  let bytes = 0;
  for (const a of args) bytes += Buffer.byteLength(a) + 1;
  if (bytes < ARGS_BYTES || args.length === 0) return args;
  return [...args.slice(0, -1), `${args[args.length - 1]}…`];
}

function push<T>(list: T[], item: T): void {
  list.push(item);
  if (list.length > 2 * TREE_KEPT) list.splice(0, list.length - TREE_KEPT);
}

/** Snapshots in time order; the first ones forgotten by moving an index (cut off the array when most are). */
class SnapshotList {
  private items: TreeSnapshot[] = [];
  private first = 0;

  get kept(): number { return this.items.length - this.first; }

  push(s: TreeSnapshot): void {
    this.items.push(s);
    if (this.kept > TREE_KEPT) this.first = this.items.length - TREE_KEPT;
    this.compact();
  }

  /** The first index at or after tsNs. */
  private lowerBound(tsNs: number): number {
    const list = this.items;
    let lo = this.first, hi = list.length;
    while (lo < hi) { const mid = (lo + hi) >> 1; if (list[mid].tsNs < tsNs) lo = mid + 1; else hi = mid; }
    return lo;
  }

  /** The snapshot nearest to tsNs within marginNs, or null. */
  nearest(tsNs: number, marginNs: number): TreeSnapshot | null {
    const list = this.items;
    let best: TreeSnapshot | null = null;
    for (let i = this.lowerBound(tsNs - marginNs); i < list.length && list[i].tsNs <= tsNs + marginNs; i++) {
      const s = list[i];
      if (best === null || Math.abs(s.tsNs - tsNs) < Math.abs(best.tsNs - tsNs)) best = s;
    }
    return best;
  }

  forgetBefore(tsNs: number): void {
    this.first = Math.max(this.first, this.lowerBound(tsNs));
    this.compact();
  }

  private compact(): void {
    if (this.first < 1024 || this.first * 2 < this.items.length) return;
    this.items = this.items.slice(this.first);
    this.first = 0;
  }
}
