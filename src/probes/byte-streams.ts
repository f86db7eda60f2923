// The kernel's view of each watched byte stream: for one (process, fd, direction), the
// completed read or write syscalls in order, each with the range of stream offsets it moved.
// A pipe or socket is a byte stream, so the n-th byte lsptap wrote to the server's stdin is
// the n-th byte the server read from its fd 0; cumulative byte counts per (pid, fd) in
// syscall order give every syscall its offsets, and a message's offset (from the framer)
// finds the syscalls that carried its first and last bytes. Counting starts at 0 when the
// stream is registered, before any byte of the session crossed it, except for the editor's
// writes: the editor may write before lsptap watches it, so that stream starts at the bytes
// already waiting in the pipe (see startAt).

import type { IoEvent } from './event-layout';

export interface Segment { startOff: number; endOff: number; enterNs: number; exitNs: number }

/** Segments kept per stream; older ones are forgotten (their messages get null fields). */
export const SEGMENTS_KEPT = 100_000;

export class ByteStream {
  private startOff: number[] = [];
  private endOff: number[] = [];
  private enterNs: number[] = [];
  private exitNs: number[] = [];
  /** Bytes this stream has moved so far. */
  total = 0;
  syscalls = 0;
  /** Calls that returned at or before this instant are already in `total` (startAt). */
  private countedUntilNs = 0;
  /**
   * Bytes counted before the kernel lost io events (lose()): offsets past this are not known
   * any more (a lost call's bytes are missing from every later offset), so nothing past it
   * is joined. Infinity while nothing was lost.
   */
  private knownUntilOff = Infinity;

  constructor(readonly label: string) {}

  /**
   * The stream had already moved `bytes` when watching began; calls returned by `untilNs`
   * are in that count and are skipped when their events arrive.
   */
  startAt(bytes: number, untilNs: number): void {
    this.total = bytes;
    this.countedUntilNs = untilNs;
  }

  add(e: IoEvent): void {
    if (e.ret <= 0) return; // EAGAIN on a non-blocking fd, EOF, errors: no bytes moved
    if (e.exitNs <= this.countedUntilNs) return;
    this.syscalls++;
    this.startOff.push(this.total);
    this.total += e.ret;
    this.endOff.push(this.total);
    // enterNs 0: the call began before tracing did; its bytes count, its duration does not.
    this.enterNs.push(e.enterNs === 0 ? e.exitNs : e.enterNs);
    this.exitNs.push(e.exitNs);
    if (this.endOff.length > 2 * SEGMENTS_KEPT) {
      const drop = this.endOff.length - SEGMENTS_KEPT;
      this.startOff = this.startOff.slice(drop); this.endOff = this.endOff.slice(drop);
      this.enterNs = this.enterNs.slice(drop); this.exitNs = this.exitNs.slice(drop);
    }
  }

  /**
   * The kernel lost io events after every call counted so far: later offsets are unknown.
   * Offsets are counted here, in order, so a lost call would shift every later join; the
   * messages past this point get null fields instead of another message's times.
   */
  lose(): void { this.knownUntilOff = Math.min(this.knownUntilOff, this.total); }

  /** Index of the syscall that moved byte `off`, or -1 (not yet, forgotten, or past a loss). */
  private indexOf(off: number): number {
    if (off >= this.knownUntilOff) return -1;
    const ends = this.endOff;
    let lo = 0, hi = ends.length;
    while (lo < hi) { const mid = (lo + hi) >> 1; if (ends[mid] <= off) lo = mid + 1; else hi = mid; }
    return lo < ends.length && this.startOff[lo] <= off ? lo : -1;
  }

  /** The syscall that moved byte `off`. */
  at(off: number): Segment | null {
    const i = this.indexOf(off);
    return i < 0 ? null : { startOff: this.startOff[i], endOff: this.endOff[i], enterNs: this.enterNs[i], exitNs: this.exitNs[i] };
  }

  /** True once byte `off` has been moved, or can no longer be placed (past a loss: do not wait for it). */
  has(off: number): boolean { return off < this.total || off >= this.knownUntilOff; }

  /** Summed duration (ns) of the syscalls that moved any byte of [from, to]; null if unknown. */
  syscallNs(from: number, to: number): number | null {
    const first = this.indexOf(from), last = this.indexOf(to);
    if (first < 0 || last < 0) return null;
    let sum = 0;
    for (let i = first; i <= last; i++) sum += this.exitNs[i] - this.enterNs[i];
    return sum;
  }
}
