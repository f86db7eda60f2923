// The kernel's view of each watched byte stream: for one (process, fd, direction), the
// completed read or write syscalls, each with the range of stream offsets it moved. A pipe
// or socket is a byte stream, so the n-th byte lsptap wrote to the server's stdin is the n-th
// byte the server read from its fd 0. The kernel counts each direction's bytes per watched
// (pid, fd) and stamps every call with the count before it (struct io_fd_bytes), so a call
// whose event a full ring lost leaves a hole in the offsets, and every other call keeps its
// own; a message's offset (from the framer) finds the calls that carried its first and last
// bytes. Counting starts at 0 when the stream is registered, before any byte of the session
// crossed it, except for the editor's writes (the editor may write before lsptap watches
// it, so that stream starts at the bytes already waiting in the pipe) and for every stream of
// a session watched after its bytes began to flow (kernel-timing.ts's cut): those start at a
// count (startAt), and a stream whose count is not known yet keeps its events until it is.
// A count taken while one of the stream's calls was under way (a peer's read that had taken
// some bytes and not returned) leaves that call's place unknown: startAt's inFlight judges
// it, and when it cannot, the stream is lost (its fields null) rather than joined wrong.

import type { IoEvent } from './event-layout';

/** Where a call in flight while a count was taken goes: its bytes are in the count, all after it, or unknown. */
export type InFlightCall = 'before' | 'after' | null;

/** The calls that began by beganByNs and returned after the count's untilNs were in flight while it was taken: judge says where each goes. */
export interface InFlightRule { beganByNs: number; judge: (e: IoEvent) => InFlightCall }

export interface Segment { startOff: number; endOff: number; enterNs: number; exitNs: number }

/**
 * Segments kept per stream at most, when the stage cannot forget them sooner (forgetBelow:
 * a request that is never answered holds its stream's calls from its own on); older ones
 * are forgotten then (their messages get null fields).
 */
export const SEGMENTS_KEPT = 100_000;
/** Room for this many calls per stream at first; doubled when the kept calls fill it. */
const INITIAL_SEGMENTS = 256;

export class ByteStream {
  // The kept calls, one per index of four parallel Float64Arrays (offsets and ns are exact
  // below 2^53): a call is added with no allocation, and forgotten ones are reclaimed by
  // moving the kept ones to the front in place. Growable arrays of numbers were reallocated
  // and copied as they grew and were cut (the analysis thread's page faults in fresh memory).
  private startOff: Float64Array = new Float64Array(INITIAL_SEGMENTS);
  private endOff: Float64Array = new Float64Array(INITIAL_SEGMENTS);
  private enterNs: Float64Array = new Float64Array(INITIAL_SEGMENTS);
  private exitNs: Float64Array = new Float64Array(INITIAL_SEGMENTS);
  /** Index of the first segment kept: the ones before it are forgotten (forgetBelow). */
  private first = 0;
  /** One past the last segment kept. */
  private end = 0;
  /** The end of the furthest bytes this stream has moved so far. */
  total = 0;
  syscalls = 0;
  /** Calls that returned at or before this instant are already in the startAt count. */
  private countedUntilNs = 0;
  /** Added to the kernel's count to give the stream offset (startAt). */
  private base = 0;
  /** Events that came before the stream's starting count was known (awaitStart), or null. */
  private waiting: IoEvent[] | null = null;
  /** The count at startAt (before any event after it). */
  private startBytes = 0;
  /** Until the first call returning after the count: how to place one that began before it. */
  private inFlight: InFlightRule | null = null;
  /** Offsets past the start can no longer be known (lose()). */
  private lost = false;

  constructor(readonly label: string) {}

  /**
   * The stream had already moved `bytes` when watching began; calls returned by `untilNs`
   * are in that count and are skipped when their events arrive.
   */
  startAt(bytes: number, untilNs: number, inFlight: InFlightRule | null = null): void {
    this.total = bytes;
    this.base = bytes;
    this.startBytes = bytes;
    this.countedUntilNs = untilNs;
    this.inFlight = inFlight;
    const waiting = this.waiting;
    this.waiting = null;
    if (waiting !== null) for (const e of waiting) this.add(e);
  }

  /**
   * The stream offset of the kernel's count `count` (the bytes it counted since watching
   * began), or null while the starting count is not known yet (awaitStart).
   */
  offsetOfCount(count: number): number | null { return this.waiting !== null || this.lost ? null : this.base + count; }

  /**
   * The stream's offsets can no longer be known: from here every byte counts as moved and
   * none has a call, so records complete at once and the fields it gives are null.
   */
  lose(): void {
    this.lost = true;
    this.waiting = null;
    this.total = Number.MAX_SAFE_INTEGER;
  }

  /** Keep events until startAt gives the count they follow. */
  awaitStart(): void { this.waiting ??= []; }

  /** Bytes the stream had moved by instant ns (the starting count, and every call returned by then). */
  bytesAt(ns: number): number {
    let end = this.startBytes;
    for (let i = this.end - 1; i >= this.first; i--) if (this.exitNs[i] <= ns && this.endOff[i] > end) end = this.endOff[i];
    return end;
  }

  add(e: IoEvent): void {
    // A copy: the feed hands every event in one object it refills (kernel-feed.ts).
    if (this.waiting !== null) { this.waiting.push({ ...e }); return; }
    if (this.lost || e.ret <= 0) return; // EAGAIN on a non-blocking fd, EOF, errors: no bytes moved
    if (e.exitNs <= this.countedUntilNs) {
      // Counted by the kernel (it was watched) and in the startAt count too.
      this.base -= e.ret;
      return;
    }
    const rule = this.inFlight;
    if (rule !== null) {
      // Only the first call returning after the count can have begun before it was taken: the
      // next begins after this one returned (one caller at a time on a stream).
      this.inFlight = null;
      if (e.enterNs === 0 || e.enterNs <= rule.beganByNs) {
        const where = rule.judge(e);
        if (where === null) { this.lose(); return; }
        if (where === 'before') { this.base -= e.ret; return; }
      }
    }
    this.syscalls++;
    const start = this.base + e.startOff, end = start + e.ret;
    // In order but for calls that raced on one fd (two threads): kept sorted by offset.
    if (this.end === this.startOff.length) this.makeRoom();
    let i = this.end;
    while (i > this.first && this.startOff[i - 1] > start) i--;
    if (i < this.end) {
      for (const a of [this.startOff, this.endOff, this.enterNs, this.exitNs]) a.copyWithin(i + 1, i, this.end);
    }
    // enterNs 0: the call began before tracing did; its bytes count, its duration does not.
    this.startOff[i] = start; this.endOff[i] = end;
    this.enterNs[i] = e.enterNs === 0 ? e.exitNs : e.enterNs; this.exitNs[i] = e.exitNs;
    this.end++;
    if (end > this.total) this.total = end;
    if (this.kept > SEGMENTS_KEPT) this.first = this.end - SEGMENTS_KEPT;
  }

  /** Segments kept. */
  get kept(): number { return this.end - this.first; }

  /**
   * Forget the calls that moved only bytes before `off`: no message still to be timed needs
   * them (KernelStage knows which offsets it may still look up).
   */
  forgetBelow(off: number): void {
    const ends = this.endOff;
    let lo = this.first, hi = this.end;
    while (lo < hi) { const mid = (lo + hi) >> 1; if (ends[mid] <= off) lo = mid + 1; else hi = mid; }
    this.first = lo;
  }

  /**
   * The arrays are full: move the kept segments to the front when the forgotten ones are at
   * least half (in place, amortised over as many adds), else double them.
   */
  private makeRoom(): void {
    const n = this.end - this.first;
    if (this.first * 2 >= this.startOff.length) {
      for (const a of [this.startOff, this.endOff, this.enterNs, this.exitNs]) a.copyWithin(0, this.first, this.end);
    } else {
      const grow = (a: Float64Array): Float64Array => { const b = new Float64Array(a.length * 2); b.set(a.subarray(this.first, this.end)); return b; };
      this.startOff = grow(this.startOff); this.endOff = grow(this.endOff);
      this.enterNs = grow(this.enterNs); this.exitNs = grow(this.exitNs);
    }
    this.first = 0;
    this.end = n;
  }

  /** Index of the syscall that moved byte `off`, or -1 (not yet, forgotten, or its event lost). */
  private indexOf(off: number): number {
    const ends = this.endOff;
    let lo = this.first, hi = this.end;
    while (lo < hi) { const mid = (lo + hi) >> 1; if (ends[mid] <= off) lo = mid + 1; else hi = mid; }
    return lo < this.end && this.startOff[lo] <= off ? lo : -1;
  }

  /** The syscall that moved byte `off`. */
  at(off: number): Segment | null {
    const i = this.indexOf(off);
    return i < 0 ? null : { startOff: this.startOff[i], endOff: this.endOff[i], enterNs: this.enterNs[i], exitNs: this.exitNs[i] };
  }

  /** When the syscall that moved byte `off` returned (ns), with no Segment made; undefined as at() gives null. */
  exitNsAt(off: number): number | undefined {
    const i = this.indexOf(off);
    return i < 0 ? undefined : this.exitNs[i];
  }

  /** When the syscall that moved byte `off` began (ns); undefined as at() gives null. */
  enterNsAt(off: number): number | undefined {
    const i = this.indexOf(off);
    return i < 0 ? undefined : this.enterNs[i];
  }

  /** True once byte `off` has been moved (its call's event may have been lost: at() says). */
  has(off: number): boolean { return off < this.total; }

  /** Summed duration (ns) of the syscalls that moved any byte of [from, to]; null if unknown. */
  syscallNs(from: number, to: number): number | null {
    const first = this.indexOf(from), last = this.indexOf(to);
    if (first < 0 || last < 0) return null;
    let sum = 0;
    for (let i = first; i <= last; i++) {
      if (i > first && this.startOff[i] !== this.endOff[i - 1]) return null; // a lost call's bytes in between
      sum += this.exitNs[i] - this.enterNs[i];
    }
    return sum;
  }
}
