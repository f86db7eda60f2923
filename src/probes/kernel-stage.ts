// Joins kernel events to messages and fills `rec.kernel`. Records wait here, in order,
// until the kernel has shown the read that took their last byte at the far end (the
// server for c2s, the editor for s2c), or until holdMs passed; then they go on with what
// is known (null for the rest). Joins are by (pid, fd, stream offset): see byte-streams.ts.
//
// Fields (µs, integers), docs/kernel-timing.md "Fields":
//   every message: lsptapReadUs, lsptapWriteUs (lsptap's syscalls that moved its bytes);
//   c2s: fromEditorPipeUs (the editor's write of the last byte returned -> lsptap's read of
//        it returned), toServerPipeUs (lsptap's write of the last byte returned -> the
//        server's read of it);
//   s2c: toLsptapPipeUs (server's write -> lsptap's read), toEditorPipeUs (lsptap's write
//        -> the editor's read);
//   responses to the editor's requests, also: the request's fromEditorPipeUs and
//        toServerPipeUs, serverUs (the server's read of the request's last byte -> its
//        write of the response's first byte began), split into serverCpuUs, serverRunqUs,
//        serverBlockedUs (the blocked time split by what the server's process
//        tree did meanwhile, with its children, file and disk IO and fds:
//        tree-accounting.ts), and serverWriteUs (that write began -> the write of the
//        response's last byte returned). So toServerPipeUs + serverUs + serverWriteUs +
//        toLsptapPipeUs is the response's latencyMs, up to rounding.
//
// The record's own stamps (firstByteNs, lastByteNs, forwardedNs, latencyMs) are replaced by
// the return times of lsptap's syscalls that moved those bytes, when the kernel showed all
// of them (`clock: 'kernel'`): JavaScript takes its stamps after the syscall, on a loaded
// machine milliseconds late, which could make latencyMs smaller than serverUs.

import type { MessageRecord, KernelTiming } from '../model/record';
import type { RecordStage } from '../model/stages';
import { ByteStream, type InFlightRule } from './byte-streams';
import type { IoEvent, TreeEvent } from './event-layout';
import { TreeAccounting } from './tree-accounting';
import type { KernelEventSource, KernelEventSink } from './kernel-feed';
import type { ProfileStage } from './profile-stage';

export interface StreamFds {
  lsptapPid: number;
  serverPid: number;
  editorPid: number | null;
  /** lsptap's fds: client in/out, and its ends of the server's stdin/stdout. */
  lsptapIn: number;
  lsptapOut: number;
  lsptapToServer: number;
  lsptapFromServer: number;
  /** The server's fds: stdin/stdout (0, 1) by default; its socket in --connect mode. */
  serverIn?: number;
  serverOut?: number;
  /** The editor's fd reading lsptap's stdout. */
  editorIn: number | null;
  /** The editor's process and fd writing lsptap's stdin (usually the same process). */
  editorWriterPid?: number | null;
  editorOut?: number | null;
  /**
   * Bytes the editor had written to lsptap's stdin before watching began (lsptap reads
   * nothing before then), and the hrtime (ns) by which they were counted.
   */
  editorOutBefore?: { bytes: number; untilNs: number };
  /**
   * The analysis thread's kernel id: it never moves session bytes, but the files it opens
   * (symbol tables, /proc/kallsyms, the profile file) take the lowest free fd, which is one
   * of lsptap's watched numbers once the relay has closed that pipe; the kernel keys
   * watched_fds by (pid, fd) and counts them. null when unknown (tests).
   */
  analysisTid?: number | null;
}

const us = (ns: number): number => Math.round(ns / 1e3);
const gapUs = (fromNs: number | undefined, toNs: number | undefined): number | null =>
  fromNs === undefined || toNs === undefined ? null : us(Math.max(0, toNs - fromNs));

/** The streams of the session's peers, whose counts a cut takes from what waits in the pipes (kernel-timing.ts). */
export type FarStream = 'c2sServerRead' | 's2cServerWrite' | 'c2sEditorWrite' | 's2cEditorRead';
/**
 * When a pipe's bytes changed hands: the writer's return, or the reader's when that came first
 * (a writer woken-reader-then-preempted returns late). Pipe waits are clamped at 0, so the
 * windows around a pipe meet here for a response's parts to add up to its latency.
 */
const handoffNs = (writerExitNs: number, readerExitNs: number | undefined): number =>
  readerExitNs === undefined ? writerExitNs : Math.min(writerExitNs, readerExitNs);

interface Held { rec: MessageRecord; next: (rec: MessageRecord) => void; pushedMs: number }

/** Records timed between two passes that forget what no record still to come can need. */
const FORGET_EVERY = 256;
/**
 * Requests waiting for a response that hold their calls and snapshots, per direction, at
 * most; an older one is let go (a response to it may get null fields). Beyond it the
 * streams' and the tree's own caps apply (SEGMENTS_KEPT, TREE_KEPT).
 */
export const UNANSWERED_KEPT = 100_000;

export class KernelStage implements RecordStage, KernelEventSink {
  private readonly streams = new StreamTable();
  readonly c2sLsptapRead: ByteStream;
  readonly c2sLsptapWrite: ByteStream;
  readonly c2sServerRead: ByteStream;
  readonly s2cServerWrite: ByteStream;
  readonly s2cLsptapRead: ByteStream;
  readonly s2cLsptapWrite: ByteStream;
  /** null when the editor's end is not watched (or, watched late, its count cannot be known). */
  s2cEditorRead: ByteStream | null;
  c2sEditorWrite: ByteStream | null;
  readonly tree: TreeAccounting;
  private readonly lsptapPid: number;
  private readonly analysisTid: number | null;
  private readonly queue: Held[] = [];
  private head = 0;
  /**
   * What a record still to come may look up, so that the rest is forgotten (forget): per
   * direction, the requests timed and not answered yet (their last byte's offset, oldest
   * first, to the server's read of it in ns, 0 when unknown or not the server's) and the
   * offset of the last record timed; and the server's read of the last editor message
   * timed and its write of the last server message.
   */
  private readonly unanswered = { c2s: new Map<number, number>(), s2c: new Map<number, number>() };
  private readonly timedOffset = { c2s: 0, s2c: 0 };
  private lastServerReadNs = 0;
  private lastServerWriteNs = 0;
  private sinceForget = 0;
  ioEvents = 0;
  /** Io events on no registered stream (should stay 0: the kernel filters by pid and fd). */
  strayEvents = 0;
  /** Io events of the analysis thread's own files on a reused watched fd number (StreamFds.analysisTid): not the session's. */
  analysisThreadEvents = 0;

  /** tree: the server's process tree, which this stage reads windows from. */
  /** profile: the session's profiling (--profile-hz), which gives responses kernel.profile; null when off. */
  constructor(fds: StreamFds, private readonly holdMs: number, private readonly feed: KernelEventSource, tree: TreeAccounting, private readonly profile: ProfileStage | null = null) {
    this.tree = tree;
    this.lsptapPid = fds.lsptapPid;
    this.analysisTid = fds.analysisTid ?? null;
    const reg = (pid: number, fd: number, read: boolean, label: string): ByteStream => {
      const s = new ByteStream(label);
      this.streams.add(pid, fd, read, s);
      return s;
    };
    this.c2sLsptapRead = reg(fds.lsptapPid, fds.lsptapIn, true, 'lsptap reads the editor');
    this.c2sLsptapWrite = reg(fds.lsptapPid, fds.lsptapToServer, false, 'lsptap writes the server');
    this.c2sServerRead = reg(fds.serverPid, fds.serverIn ?? 0, true, 'server reads stdin');
    this.s2cServerWrite = reg(fds.serverPid, fds.serverOut ?? 1, false, 'server writes stdout');
    this.s2cLsptapRead = reg(fds.lsptapPid, fds.lsptapFromServer, true, 'lsptap reads the server');
    this.s2cLsptapWrite = reg(fds.lsptapPid, fds.lsptapOut, false, 'lsptap writes the editor');
    this.s2cEditorRead = fds.editorPid !== null && fds.editorIn !== null ? reg(fds.editorPid, fds.editorIn, true, 'editor reads lsptap') : null;
    const wPid = fds.editorWriterPid ?? null, wFd = fds.editorOut ?? null;
    this.c2sEditorWrite = wPid !== null && wFd !== null ? reg(wPid, wFd, false, 'editor writes lsptap') : null;
    if (this.c2sEditorWrite !== null && fds.editorOutBefore !== undefined) this.c2sEditorWrite.startAt(fds.editorOutBefore.bytes, fds.editorOutBefore.untilNs);
    // The profiler's samples carry the kernel's counts of the same two server streams.
    const input = this.c2sServerRead, output = this.s2cServerWrite;
    profile?.useStreamOffsets({ input: (n) => input.offsetOfCount(n), output: (n) => output.offsetOfCount(n) });
  }

  /** Watched after the session began: every stream keeps its events until its count is known (startAt, startOrForget). */
  awaitStarts(): void {
    for (const s of this.streams.all) s.awaitStart();
  }

  /**
   * Start a far end's stream at a count, or, when its count cannot be known, stop watching
   * it (the editor's: its fields become null as for an unwatched editor) or lose it (the
   * server's: its fields null from here).
   */
  startOrForget(name: FarStream, start: { bytes: number; untilNs: number; inFlight: InFlightRule | null } | null): void {
    const s = this[name];
    if (s === null) return;
    if (start !== null) { s.startAt(start.bytes, start.untilNs, start.inFlight); return; }
    if (name === 'c2sEditorWrite' || name === 's2cEditorRead') {
      this.streams.remove(s);
      this[name] = null;
      return;
    }
    s.lose();
  }

  readonly onIo = (e: IoEvent): void => {
    if (e.tid === this.analysisTid && e.pid === this.lsptapPid) { this.analysisThreadEvents++; return; }
    this.ioEvents++;
    const s = this.streams.find(e.pid, e.fd, e.isRead);
    if (s === undefined) { this.strayEvents++; return; }
    s.add(e);
  };

  readonly onTree = (e: TreeEvent): void => { this.tree.add(e); };

  /** The kernel lost tree records after afterNs (the ring was full): a gap in the snapshots. */
  readonly onTreeLost = (afterNs: number): void => { this.tree.lost(afterNs); };

  /** Read the rings (the drain timer calls this when nothing is held); how many records. */
  drain(): number { return this.feed.drain(this); }

  push(rec: MessageRecord, next: (rec: MessageRecord) => void): void {
    this.profile?.onRecord(rec);
    this.queue.push({ rec, next, pushedMs: Date.now() });
    this.pump(false);
  }

  /** Drain the rings, then pass on every record that is complete or waited long enough. */
  pump(force: boolean): void {
    if (this.head >= this.queue.length) return;
    this.feed.drain(this);
    this.profile?.stale();
    const now = Date.now();
    while (this.head < this.queue.length) {
      const h = this.queue[this.head];
      if (!force && !this.complete(h.rec) && now - h.pushedMs < this.holdMs) break;
      this.queue[this.head++] = undefined as unknown as Held;
      h.rec.kernel = this.timing(h.rec);
      this.useKernelClock(h.rec);
      this.timed(h.rec);
      h.next(h.rec);
    }
    if (this.head > 1024 && this.head * 2 > this.queue.length) { this.queue.splice(0, this.head); this.head = 0; }
  }

  get heldCount(): number { return this.queue.length - this.head; }

  /**
   * Note what records to come may still look up after rec: the bytes of rec's direction
   * from its offset on, a request's last byte until its response, the server's snapshots
   * from its read of the oldest of those requests and from its write of the last message.
   */
  private timed(rec: MessageRecord): void {
    const end = rec.offset + rec.headerBytes + rec.bytes - 1;
    this.timedOffset[rec.dir] = rec.offset;
    const readNs = rec.dir === 'c2s' ? this.c2sServerRead.exitNsAt(end) ?? 0 : 0;
    if (readNs !== 0) this.lastServerReadNs = readNs;
    if (rec.dir === 's2c') this.lastServerWriteNs = this.s2cServerWrite.enterNsAt(rec.offset) ?? this.lastServerWriteNs;
    if (rec.kind === 'request' && rec.id !== null) {
      const waiting = this.unanswered[rec.dir];
      waiting.set(end, readNs);
      if (waiting.size > UNANSWERED_KEPT) waiting.delete(waiting.keys().next().value as number);
    } else if (rec.kind === 'response' && rec.request !== null) {
      this.unanswered[rec.dir === 'c2s' ? 's2c' : 'c2s'].delete(rec.request.endOffset);
    }
    if (++this.sinceForget >= FORGET_EVERY) { this.sinceForget = 0; this.forget(); }
  }

  /** Forget the calls and snapshots no record still to come can need (timed). */
  private forget(): void {
    const below = (dir: 'c2s' | 's2c'): number => {
      const oldest = this.unanswered[dir].keys().next();
      return oldest.done === true ? this.timedOffset[dir] : Math.min(oldest.value, this.timedOffset[dir]);
    };
    const c2s = below('c2s'), s2c = below('s2c');
    for (const s of [this.c2sEditorWrite, this.c2sLsptapRead, this.c2sLsptapWrite, this.c2sServerRead]) s?.forgetBelow(c2s);
    for (const s of [this.s2cServerWrite, this.s2cLsptapRead, this.s2cLsptapWrite, this.s2cEditorRead]) s?.forgetBelow(s2c);
    let readNs = this.lastServerReadNs;
    for (const ns of this.unanswered.c2s.values()) if (ns !== 0) { readNs = Math.min(readNs, ns); break; } // the oldest known read
    this.tree.forgetBefore(readNs, this.lastServerWriteNs);
  }

  /** Syscalls kept, over every stream. */
  get keptSegments(): number {
    let n = 0;
    for (const s of this.streams.all) n += s.kept;
    return n;
  }

  flush(): Promise<void> {
    this.pump(true);
    return Promise.resolve();
  }

  private complete(rec: MessageRecord): boolean {
    const end = rec.offset + rec.headerBytes + rec.bytes - 1;
    if (rec.dir === 'c2s') return this.c2sServerRead.has(end);
    return this.s2cEditorRead === null ? this.s2cLsptapWrite.has(end) : this.s2cEditorRead.has(end);
  }

  /** lsptap's read from the sender and write to the receiver, for one direction. */
  private ownStreams(dir: MessageRecord['dir']): { read: ByteStream; write: ByteStream } {
    return dir === 'c2s' ? { read: this.c2sLsptapRead, write: this.c2sLsptapWrite } : { read: this.s2cLsptapRead, write: this.s2cLsptapWrite };
  }

  /**
   * Replace the record's JavaScript stamps with the return times of lsptap's own syscalls
   * (the same CLOCK_MONOTONIC as hrtime), all or none: a line's stamps and latency come
   * from one clock.
   */
  useKernelClock(rec: MessageRecord): void {
    const end = rec.offset + rec.headerBytes + rec.bytes - 1;
    const own = this.ownStreams(rec.dir);
    const firstNs = own.read.exitNsAt(rec.offset);
    const lastNs = own.read.exitNsAt(end);
    const fwdNs = own.write.exitNsAt(end);
    if (firstNs === undefined || lastNs === undefined || fwdNs === undefined) return;
    const req = rec.kind === 'response' ? rec.request : null;
    let reqFwdNs: number | undefined;
    if (req !== null) {
      reqFwdNs = this.ownStreams(rec.dir === 'c2s' ? 's2c' : 'c2s').write.exitNsAt(req.endOffset);
      if (reqFwdNs === undefined) return;
      // A write preempted after it woke the reader returns after the read: the request had left
      // lsptap by then, and the latency starts there so that its parts add up to it (handoffNs).
      if (rec.dir === 's2c') reqFwdNs = handoffNs(reqFwdNs, this.c2sServerRead.exitNsAt(req.endOffset));
      req.forwardedNs = BigInt(reqFwdNs);
      rec.latencyMs = (lastNs - reqFwdNs) / 1e6;
    }
    rec.firstByteNs = BigInt(firstNs);
    rec.lastByteNs = BigInt(lastNs);
    rec.forwardedNs = BigInt(fwdNs);
    rec.clock = 'kernel';
  }

  /** The editor's write of byte `off` returned -> lsptap's read of it returned. */
  private fromEditorUs(off: number): number | null {
    if (this.c2sEditorWrite === null) return null;
    return gapUs(this.c2sEditorWrite.exitNsAt(off), this.c2sLsptapRead.exitNsAt(off));
  }

  /** Compute the kernel fields of one record. */
  timing(rec: MessageRecord): KernelTiming {
    const start = rec.offset;
    const end = rec.offset + rec.headerBytes + rec.bytes - 1;
    const k: KernelTiming = {};
    if (rec.dir === 'c2s') {
      k.fromEditorPipeUs = this.fromEditorUs(end);
      k.lsptapReadUs = nsToUs(this.c2sLsptapRead.syscallNs(start, end));
      k.lsptapWriteUs = nsToUs(this.c2sLsptapWrite.syscallNs(start, end));
      k.toServerPipeUs = gapUs(this.c2sLsptapWrite.exitNsAt(end), this.c2sServerRead.exitNsAt(end));
      return k;
    }
    const req = rec.kind === 'response' ? rec.request : null;
    if (req !== null) {
      const qEnd = req.endOffset;
      const readReqNs = this.c2sServerRead.exitNsAt(qEnd);
      const writeRespNs = this.s2cServerWrite.enterNsAt(start);
      k.fromEditorPipeUs = this.fromEditorUs(qEnd);
      k.toServerPipeUs = gapUs(this.c2sLsptapWrite.exitNsAt(qEnd), readReqNs);
      k.serverUs = gapUs(readReqNs, writeRespNs);
      const w = readReqNs !== undefined && writeRespNs !== undefined ? this.tree.window(readReqNs, writeRespNs, { method: rec.method, id: rec.id }) : null;
      Object.assign(k, w ?? NO_WINDOW);
      // gopls writes header and body with separate write()s; the time between is the server's too.
      // It ends by lsptap's read of the last byte, however late a preempted write returned.
      const wroteNs = this.s2cServerWrite.exitNsAt(end);
      k.serverWriteUs = gapUs(writeRespNs, wroteNs === undefined ? undefined : handoffNs(wroteNs, this.s2cLsptapRead.exitNsAt(end)));
      if (this.profile !== null) k.profile = this.profile.profileOf(rec);
    }
    k.toLsptapPipeUs = gapUs(this.s2cServerWrite.exitNsAt(end), this.s2cLsptapRead.exitNsAt(end));
    k.lsptapReadUs = nsToUs(this.s2cLsptapRead.syscallNs(start, end));
    k.lsptapWriteUs = nsToUs(this.s2cLsptapWrite.syscallNs(start, end));
    k.toEditorPipeUs = this.s2cEditorRead === null ? null : gapUs(this.s2cLsptapWrite.exitNsAt(end), this.s2cEditorRead.exitNsAt(end));
    return k;
  }
}

function nsToUs(ns: number | null): number | null { return ns === null ? null : us(ns); }

/**
 * The session's streams by (pid, fd, direction). Eight at most, so a scan of flat arrays:
 * a key string per io event (two number-to-string conversions and a concatenation, then
 * garbage) cost more than the rest of the event's handling.
 */
class StreamTable {
  private readonly pids: number[] = [];
  private readonly fds: number[] = [];
  private readonly reads: boolean[] = [];
  readonly all: ByteStream[] = [];

  add(pid: number, fd: number, read: boolean, s: ByteStream): void {
    this.pids.push(pid); this.fds.push(fd); this.reads.push(read); this.all.push(s);
  }

  find(pid: number, fd: number, read: boolean): ByteStream | undefined {
    for (let i = 0; i < this.all.length; i++) if (this.pids[i] === pid && this.fds[i] === fd && this.reads[i] === read) return this.all[i];
    return undefined;
  }

  remove(s: ByteStream): void {
    for (let i = this.all.length - 1; i >= 0; i--) {
      if (this.all[i] !== s) continue;
      this.pids.splice(i, 1); this.fds.splice(i, 1); this.reads.splice(i, 1); this.all.splice(i, 1);
    }
  }
}

/** A response whose window the kernel did not show: every tree field null. */
const NO_WINDOW: KernelTiming = {
  serverCpuUs: null, serverRunqUs: null, serverBlockedUs: null, blockedOnChildUs: null, blockedOnDiskUs: null,
  blockedOtherUs: null, blockedOtherOn: null, childCpuUs: null, childDiskUs: null, children: null, fileReads: null,
  fileReadBytes: null, pageCacheMisses: null, diskIos: null, diskIoBytes: null, diskIoUs: null, fdsOpened: null, fdsClosed: null,
};
