// A request's profile in a few names: what its response line carries (kernel.profile) and
// the sentences quote. Stacks are named once each (StackNamer, through src/symbols, on the
// analysis thread) and kept by their kernel hash.

import path from 'node:path';
import { ProcessMaps, Symbolizer } from '../symbols';
import { KERNEL_MAPPING, type ProfileFrame } from '../model/profile-file';
import { leafOnlyBinaries } from '../model/leaf-stacks';
import type { WindowProfile, StackCount } from './profile-attribution';
import { CPU_IN_GC, CPU_IN_KERNEL, CPU_IN_RUNTIME, NO_WAITER, type ProfileDigest, type ProfileShare, type WaitCauseShare } from '../model/record';

export type { ProfileDigest, ProfileShare };

/** Causes a response line lists at most, and functions per cause: keeps kernel.profile small. */
export const WAIT_CAUSES_MAX = 4;
const WAIT_CAUSE_FUNCTIONS = 3;

/** Functions listed per list: a handful, so a line stays small. */
export const PROFILE_TOP = 5;
/** A function name is cut to this many characters (Go's generic instantiations run long). */
const NAME_MAX = 160;

const TRACING_FRAME = /^(bpf_prog_|bpf_trace_run|__traceiter_|__bpf_trace_|perf_trace_)/;

/**
 * Go packages a wait passes through on its way to the kernel (the syscall plumbing, the
 * runtime, os/exec's Wait): the function that waited is the first frame from the leaf
 * outside them.
 */
const WAIT_PLUMBING = /^(runtime|syscall|internal\/[\w/]+|runtime\/internal\/\w+|os|os\/exec|os\/signal|io|io\/ioutil|io\/fs|bufio|sync|time|net|net\/http|context)\.|^0x|^\[/;

/**
 * Work Go's runtime does for the code that called it (allocation, map access, copying,
 * write barriers) and the system call wrappers (syscall, os's file calls, internal/poll):
 * a CPU tick in them is charged to the first frame from the leaf outside these packages,
 * the function that asked for the work (os.Stat's caller, not os.statNolog).
 */
const GO_RUNTIME = /^(runtime|runtime\/internal\/\w+|internal\/(bytealg|abi|poll|runtime\/\w+)|syscall|internal\/syscall\/\w+|os)\./;
/**
 * The garbage collector's frames: its background workers, the assists that allocating
 * goroutines are made to do, the sweeper and scavenger, the write barrier's buffer flush.
 * A tick with one on its stack is the collector's work, whoever it was charged to.
 */
const GO_GC = /^runtime\.(gc[A-Z]\w*|markroot\w*|scanobject|scanblock|scanstack|greyobject|bgsweep|bgscavenge|sweepone|wbBufFlush\w*)$/;

/** Names the frames of kernel stack hashes: kernel frames first, then user ones, each leaf first. */
export class StackNamer {
  private readonly named = new Map<bigint, ProfileFrame[]>();
  private readonly names = new Map<bigint, string[]>();
  /**
   * Frames by pc, named once each: most pcs recur in many stacks (gopls: 2,400 stacks of 30
   * frames a session over a few thousand pcs). A return address (named at pc-1) apart from a
   * leaf. Only named frames are kept: a pc nothing names may be named later (a JIT's perf map).
   */
  private readonly leafFrames = new Map<bigint, ProfileFrame>();
  private readonly returnFrames = new Map<bigint, ProfileFrame>();
  private readonly kernelFrames = new Map<bigint, ProfileFrame>();
  private maps: ProcessMaps | null = null;
  private mapsReadMs = 0;

  /**
   * The mappings are read at once, while the server surely lives: the stacks of a request are
   * read and named when its response is timed, which at a session's end can come after the
   * server exited (a process gone, or a zombie, has no mappings to read).
   */
  constructor(private readonly pid: number, private readonly stacks: ReadonlyMap<bigint, bigint[]>, private readonly symbolizer: Symbolizer) {
    this.readMaps();
  }

  /** Frame names (a function, else mapping+offset, else the address). */
  frames(userStack: bigint, kernelStack: bigint): string[] {
    return [...this.nameList(kernelStack, true), ...this.nameList(userStack, false)];
  }

  /** The frames as the profile file takes them. */
  profileFrames(userStack: bigint, kernelStack: bigint): ProfileFrame[] {
    return [...this.stack(kernelStack, true), ...this.stack(userStack, false)];
  }

  /** The function that waited, for a wait stack: the first user frame outside WAIT_PLUMBING (else the user leaf). */
  waiter(userStack: bigint): string | null {
    const user = this.nameList(userStack, false);
    return user.find((f) => !WAIT_PLUMBING.test(f)) ?? user[0] ?? null;
  }

  /**
   * The function a CPU tick worked for: the collector when a GC frame is on the user stack;
   * else the first user frame from the leaf outside Go's runtime (its work and the kernel's
   * below it are done for that function); the runtime's own work (the scheduler, sysmon)
   * when the whole stack is the runtime's; the kernel when there is no user stack.
   */
  worker(userStack: bigint): string {
    const user = this.nameList(userStack, false);
    if (user.length === 0) return CPU_IN_KERNEL;
    if (user.some((f) => GO_GC.test(f))) return CPU_IN_GC;
    return user.find((f) => !GO_RUNTIME.test(f)) ?? CPU_IN_RUNTIME;
  }

  private nameList(hash: bigint, kernel: boolean): string[] {
    if (hash === 0n) return [];
    let n = this.names.get(hash);
    if (n === undefined) {
      n = this.stack(hash, kernel).map(frameName);
      this.names.set(hash, n);
    }
    return n;
  }

  private stack(hash: bigint, kernel: boolean): ProfileFrame[] {
    if (hash === 0n) return [];
    let f = this.named.get(hash);
    if (f !== undefined) return f;
    const pcs = this.stacks.get(hash);
    if (pcs === undefined) return [LOST_FRAME];
    f = pcs.map((pc, i) => (kernel ? this.kernelFrame(pc) : this.userFrame(pc, i > 0)));
    // A stack taken at sched_switch starts inside the profiler itself: its program and the
    // tracepoint's plumbing are not where the thread was.
    if (kernel) { let i = 0; while (i < f.length && f[i].fn !== null && TRACING_FRAME.test(f[i].fn!)) i++; f = f.slice(i); }
    this.named.set(hash, f);
    return f;
  }

  private kernelFrame(pc: bigint): ProfileFrame {
    let f = this.kernelFrames.get(pc);
    if (f === undefined) {
      f = { mapping: KERNEL_MAPPING, address: pc, fn: this.symbolizer.kernel(pc).symbol.fn, file: null, line: null };
      this.kernelFrames.set(pc, f);
    }
    return f;
  }

  private userFrame(pc: bigint, isReturnAddress: boolean): ProfileFrame {
    const known = isReturnAddress ? this.returnFrames : this.leafFrames;
    let f = known.get(pc);
    if (f !== undefined) return f;
    const maps = this.processMaps(pc);
    if (maps === null) return { mapping: null, address: pc, fn: null, file: null, line: null };
    const { mapping, symbol } = this.symbolizer.user(maps, pc, isReturnAddress);
    f = { mapping, address: pc, fn: symbol.fn, file: symbol.file, line: symbol.line };
    if (f.fn !== null) known.set(pc, f);
    return f;
  }

  /**
   * Stacks came in while the server lives: make sure its mappings cover their user frames
   * now, since naming may come later than its exit (a response is named when lsptap logs
   * it, and a starved analysis thread logs late). The maps are read again (at most once a
   * second) only when a pc is in none of the mappings read so far: reading
   * /proc/PID/maps takes the server's mmap lock and walks its every mapping.
   */
  sampled(stacks: Iterable<readonly bigint[]>): void {
    if (this.maps === null) { this.readMaps(); return; }
    for (const pcs of stacks) {
      for (const pc of pcs) {
        if (pc >= KERNEL_SPACE || this.maps.find(pc) !== null) continue;
        if (Date.now() - this.mapsReadMs > 1000) this.readMaps();
        return;
      }
    }
  }

  /** The server's mappings, read again (at most once a second) when a pc is in none of them. */
  private processMaps(pc: bigint): ProcessMaps | null {
    if (this.maps === null || (this.maps.find(pc) === null && Date.now() - this.mapsReadMs > 1000)) this.readMaps();
    return this.maps;
  }

  /** The last mappings read while the process lived are kept once it is gone (an exited process reads as none). */
  private readMaps(): void {
    const fresh = ProcessMaps.read(this.pid);
    this.mapsReadMs = Date.now();
    if (fresh !== null && fresh.mappings.length > 0) this.maps = fresh;
  }
}

/** Addresses from here up are the kernel's (x86-64 and arm64 split the space in halves). */
const KERNEL_SPACE = 1n << 63n;

/** A stack the kernel's map had no room for: its samples are kept, under this. */
const LOST_FRAME: ProfileFrame = Object.freeze({ mapping: null, address: 0n, fn: '[stack lost]', file: null, line: null });

function frameName(f: ProfileFrame): string {
  if (f.fn !== null) return cut(f.fn);
  if (f.mapping === KERNEL_MAPPING) return `[kernel] 0x${f.address.toString(16)}`;
  if (f.mapping === null) return `0x${f.address.toString(16)}`;
  return `${path.basename(f.mapping.file) || '[anon]'}+0x${(f.address - f.mapping.start + f.mapping.offset).toString(16)}`;
}

function cut(name: string): string { return name.length > NAME_MAX ? `${name.slice(0, NAME_MAX - 1)}…` : name; }

const pct = (part: number, whole: number): number => (whole > 0 ? Math.round((1000 * part) / whole) / 10 : 0);

/** Top functions by self (leaf) and by total (anywhere on the stack, once per stack) share of weight. */
export function topFunctions(counts: Iterable<StackCount>, namer: StackNamer, weight: (s: StackCount) => number, empty = '[no stack]'): { self: ProfileShare[]; total: ProfileShare[]; whole: number } {
  const self = new Map<string, number>();
  const total = new Map<string, { w: number; depth: number }>();
  let whole = 0;
  for (const s of counts) {
    const w = weight(s);
    if (w <= 0) continue;
    whole += w;
    const frames = namer.frames(s.userStack, s.kernelStack);
    const leaf = frames.length > 0 ? frames[0] : empty;
    self.set(leaf, (self.get(leaf) ?? 0) + w);
    const seen = new Set<string>();
    // Depth counts from the root, so that at equal shares the deeper (more telling) comes first.
    for (let i = frames.length - 1; i >= 0; i--) {
      const f = frames[i];
      if (seen.has(f)) continue; // recursion: once per stack
      seen.add(f);
      const t = total.get(f);
      const depth = frames.length - 1 - i;
      if (t === undefined) total.set(f, { w, depth });
      else { t.w += w; if (depth > t.depth) t.depth = depth; }
    }
    if (frames.length === 0) total.set(empty, { w: (total.get(empty)?.w ?? 0) + w, depth: 0 });
  }
  const selfTop = [...self].sort((a, b) => b[1] - a[1]).slice(0, PROFILE_TOP).map(([fn, w]) => ({ fn, pct: pct(w, whole) }));
  const totalTop = [...total].sort((a, b) => b[1].w - a[1].w || b[1].depth - a[1].depth).slice(0, PROFILE_TOP).map(([fn, t]) => ({ fn, pct: pct(t.w, whole) }));
  return { self: selfTop, total: totalTop, whole };
}

/** The top functions by share of a weight: each stack's weight goes to the name it is given. */
function sharesBy(counts: Iterable<StackCount>, weightOf: (s: StackCount) => number, nameOf: (s: StackCount) => string, top = PROFILE_TOP): ProfileShare[] {
  const by = new Map<string, number>();
  let whole = 0;
  for (const s of counts) {
    const w = weightOf(s);
    if (w <= 0) continue;
    whole += w;
    const fn = nameOf(s);
    by.set(fn, (by.get(fn) ?? 0) + w);
  }
  return [...by].sort((a, b) => b[1] - a[1]).slice(0, top).map(([fn, w]) => ({ fn, pct: pct(w, whole) }));
}

/** The blocked time by cause, largest first, each with the functions that waited on it. */
export function waitCauses(counts: Iterable<StackCount>, namer: StackNamer): WaitCauseShare[] {
  const by = new Map<WaitCauseShare['cause'], StackCount[]>();
  for (const s of counts) {
    if (s.cause === null || s.ns <= 0) continue;
    const list = by.get(s.cause);
    if (list === undefined) by.set(s.cause, [s]); else list.push(s);
  }
  return [...by].map(([cause, list]) => ({ cause, ns: list.reduce((n, s) => n + s.ns, 0), list }))
    .sort((a, b) => b.ns - a.ns).slice(0, WAIT_CAUSES_MAX)
    .map(({ cause, ns, list }) => ({ cause, ms: Math.round(ns / 1e5) / 10, in: sharesBy(list, (s) => s.ns, waiterName(namer), WAIT_CAUSE_FUNCTIONS) }));
}

const waiterName = (namer: StackNamer) => (s: StackCount): string => (s.userStack === 0n ? NO_WAITER : namer.waiter(s.userStack) ?? NO_WAITER);

/** Where the blocked time went: the function that waited (StackNamer.waiter), by share of the ns. */
export function waitingIn(counts: Iterable<StackCount>, namer: StackNamer): ProfileShare[] {
  return sharesBy(counts, (s) => s.ns, waiterName(namer));
}

/** What the CPU ticks worked for (StackNamer.worker), by share of the ticks: what the sentences quote. */
export function workingIn(counts: Iterable<StackCount>, namer: StackNamer): ProfileShare[] {
  return sharesBy(counts, (s) => s.count, (s) => namer.worker(s.userStack));
}

export function digest(p: WindowProfile, namer: StackNamer): ProfileDigest {
  const cpu = topFunctions(p.cpu.values(), namer, (s) => s.count);
  const leafOnly = leafOnlyBinaries([...p.cpu.values()].map((s) => ({ count: s.count, stack: namer.profileFrames(s.userStack, s.kernelStack) })));
  return {
    samples: p.cpuTicks, cpuMs: Math.round(p.cpuNs / 1e5) / 10, self: cpu.self, total: cpu.total, cpuIn: workingIn(p.cpu.values(), namer),
    ...(leafOnly.length > 0 ? { leafOnly: leafOnly.slice(0, PROFILE_TOP) } : {}),
    waitMs: Math.round(p.waitNs / 1e5) / 10, waitIn: waitingIn(p.wait.values(), namer), waitCauses: waitCauses(p.wait.values(), namer),
  };
}
