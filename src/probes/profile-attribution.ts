// Which request each profile sample belongs to. The kernel keys every count by where the
// server's streams stood when it was taken (ProfileCount.readBytes, writtenBytes: the bytes
// it had read of its input and written of its output). A request is in flight from the
// server's read of its last byte until the server writes its answer's first: read past its
// end, not yet written past its answer's start.
//
// With several in flight, a sample goes to the oldest (the first the server read): gopls
// handles requests one at a time in arrival order unless a handler goes asynchronous, and a
// server working on a later one has usually answered the earlier. Samples with none in
// flight are the server's background work (gopls's diagnostics after an edit), kept as such.
// How often the rule had to choose is counted (severalInFlight).
//
// A sample waits here until its owner is certain: until lsptap has framed the server's
// input up to the sample's read count (every request the server had read is known) and its
// output past the sample's written count (a request whose answer is not among what lsptap
// has seen so far cannot have been answered by then). The analysis thread may frame both
// well after the server read and wrote them.

import type { ProfileCount, ProfileKind } from './profile-layout';
import type { WaitCause } from '../model/profile-file';

/**
 * Where the kernel's counts of the server's bytes stand in the session's streams: the same
 * unless watching began after the session's first bytes (a late session's cut), and null
 * while that start is not known yet.
 */
export interface StreamOffsets {
  input(count: number): number | null;
  output(count: number): number | null;
}

const SAME_OFFSETS: StreamOffsets = { input: (n) => n, output: (n) => n };

/** Ticks (cpu) or sleeps (wait) and their ns, for one stack pair (and, waits, one cause). */
export interface StackCount { userStack: bigint; kernelStack: bigint; cause: WaitCause | null; count: number; ns: number }

/** What one request, or the background, was sampled doing. */
export class WindowProfile {
  readonly cpu = new Map<string, StackCount>();
  readonly wait = new Map<string, StackCount>();
  cpuTicks = 0;
  cpuNs = 0;
  waitNs = 0;

  add(c: ProfileCount): void {
    const m = c.kind === 'cpu' ? this.cpu : this.wait;
    const key = `${c.userStack.toString(16)}:${c.kernelStack.toString(16)}:${c.cause ?? ''}`;
    const s = m.get(key);
    if (s === undefined) m.set(key, { userStack: c.userStack, kernelStack: c.kernelStack, cause: c.cause, count: c.count, ns: c.ns });
    else { s.count += c.count; s.ns += c.ns; }
    if (c.kind === 'cpu') { this.cpuTicks += c.count; this.cpuNs += c.ns; } else this.waitNs += c.ns;
  }
}

/** One sample with its owner, for the session's profile file. */
export interface AttributedSample {
  kind: ProfileKind;
  cause: WaitCause | null;
  method: string | null;
  id: string | null;
  userStack: bigint;
  kernelStack: bigint;
  count: number;
  ns: number;
}

interface Window {
  /** The server's input bytes once it has read the request's last byte. */
  inEnd: number;
  /** Where the answer starts in the server's output; null until lsptap frames it. */
  outStart: number | null;
  method: string | null;
  id: string | null;
  profile: WindowProfile;
}

/** Samples kept waiting for their owner at most; beyond that the oldest go to the background. */
const PENDING_MAX = 100_000;

export class ProfileAttribution {
  /** Requests not answered yet (or answered, not yet finished), in the server's read order. */
  private readonly windows: Window[] = [];
  private readonly byRequestOffset = new Map<number, Window>();
  private pending: ProfileCount[] = [];
  /** The end of the server input and output lsptap has framed so far. */
  private seenIn = 0;
  private seenOut = 0;
  readonly background = new WindowProfile();
  /** Samples of the server (ticks) and of its descendants, which no request profile shows. */
  serverTicks = 0;
  childTicks = 0;
  /** Ticks that found more than one request in flight: the oldest-first rule chose. */
  severalInFlight = 0;

  /** sink: every sample once its owner is known (the profile file); null for none. */
  /** offsets: how the kernel's byte counts map to the framer's offsets (ByteStream.offsetOfCount). */
  offsets: StreamOffsets = SAME_OFFSETS;

  constructor(private readonly serverPid: number, private readonly sink: ((s: AttributedSample) => void) | null = null) {}

  /** A request the editor sent: in the server's input it ends at inEnd. */
  request(requestOffset: number, inEnd: number, method: string | null, id: string | number | null): void {
    const w: Window = { inEnd, outStart: null, method, id: id === null ? null : String(id), profile: new WindowProfile() };
    // Framed in stream order, so inEnd only grows.
    this.windows.push(w);
    this.byRequestOffset.set(requestOffset, w);
    this.input(inEnd);
  }

  /** lsptap framed server input up to inEnd (any message the editor sent). */
  input(inEnd: number): void {
    if (inEnd > this.seenIn) this.seenIn = inEnd;
  }

  /** lsptap framed server output up to outEnd; answerTo: the offset of the request this answers, if any. */
  output(outStart: number, outEnd: number, answerTo: number | null): void {
    if (answerTo !== null) {
      const w = this.byRequestOffset.get(answerTo);
      if (w !== undefined && w.outStart === null) w.outStart = outStart;
    }
    if (outEnd > this.seenOut) this.seenOut = outEnd;
  }

  /** Counts read from the kernel: attributed now where certain, else kept until they are. */
  add(counts: ProfileCount[]): void {
    for (const c of counts) {
      if (c.tgid !== this.serverPid) { if (c.kind === 'cpu') this.childTicks += c.count; continue; }
      if (c.kind === 'cpu') this.serverTicks += c.count;
      this.pending.push(c);
    }
    this.resolve();
  }

  /** Attribute every pending sample whose owner is certain by now. */
  resolve(): void {
    if (this.pending.length === 0) return;
    const left: ProfileCount[] = [];
    for (const c of this.pending) if (!this.place(c)) left.push(c);
    if (left.length > PENDING_MAX) for (const c of left.splice(0, left.length - PENDING_MAX)) this.give(c, null);
    this.pending = left;
  }

  /**
   * The answer to the request at requestOffset is complete: its profile, and the window is
   * forgotten (every sample that could be its is attributed by then: they were taken
   * before the server wrote the answer that lsptap has framed). null when it was not seen.
   */
  finish(requestOffset: number): WindowProfile | null {
    const w = this.byRequestOffset.get(requestOffset);
    if (w === undefined) return null;
    this.resolve();
    this.byRequestOffset.delete(requestOffset);
    const i = this.windows.indexOf(w);
    if (i >= 0) this.windows.splice(i, 1);
    return w.profile;
  }

  /** At the end: whatever still waits goes to its oldest candidate or the background. */
  flush(): void {
    this.seenIn = Infinity;
    this.seenOut = Infinity;
    this.resolve();
    // Samples whose counts never found the session's offsets (a stream never started).
    for (const c of this.pending) this.give(c, null);
    this.pending = [];
  }

  /** false: not certain yet. */
  private place(c: ProfileCount): boolean {
    const readAt = this.offsets.input(c.readBytes), writtenAt = this.offsets.output(c.writtenBytes);
    if (readAt === null || writtenAt === null) return false;
    if (readAt > this.seenIn) return false; // a request the server read may not be framed yet
    let owner: Window | null = null, candidates = 0;
    for (const w of this.windows) {
      if (w.inEnd > readAt) break;
      if (w.outStart !== null && w.outStart < writtenAt) continue; // answered before the sample
      if (w.outStart === null && writtenAt > this.seenOut) {
        if (owner === null) return false;
        break; // the owner is certain; only the count of candidates is not
      }
      candidates++;
      owner ??= w;
    }
    if (candidates > 1 && c.kind === 'cpu') this.severalInFlight += c.count;
    this.give(c, owner);
    return true;
  }

  private give(c: ProfileCount, owner: Window | null): void {
    (owner?.profile ?? this.background).add(c);
    this.sink?.({ kind: c.kind, cause: c.cause, method: owner?.method ?? null, id: owner?.id ?? null, userStack: c.userStack, kernelStack: c.kernelStack, count: c.count, ns: c.ns });
  }
}
