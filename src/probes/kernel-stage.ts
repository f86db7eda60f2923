// Joins kernel events to messages and fills `rec.kernel`. Records wait here, in order,
// until the kernel has shown the read that took their last byte at the far end (the
// server for c2s, the editor for s2c), or until holdMs passed; then they go on with what
// is known (null for the rest). Joins are by (pid, fd, stream offset): see byte-streams.ts.
//
// Fields (µs, integers), README "Kernel timing":
//   every message: lsptapReadUs, lsptapWriteUs (lsptap's syscalls that moved its bytes);
//   c2s: toServerPipeUs (lsptap's write of the last byte returned -> the server's read of it);
//   s2c: toLsptapPipeUs (server's write -> lsptap's read), toEditorPipeUs (lsptap's write
//        -> the editor's read);
//   responses to the editor's requests, also: the request's toServerPipeUs, serverUs (the
//        server's read of the request's last byte -> its write of the response's first
//        byte), split into serverCpuUs, serverRunqUs, serverBlockedUs; the blocked time
//        split by what the server's process tree did meanwhile, with its children, file
//        and disk IO and fds (tree-accounting.ts).

import type { MessageRecord, KernelTiming } from '../model/record';
import type { RecordStage } from '../model/stages';
import { ByteStream } from './byte-streams';
import type { IoEvent, TreeEvent } from './event-layout';
import { TreeAccounting } from './tree-accounting';
import type { KernelFeed, KernelEventSink } from './kernel-feed';

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
}

const us = (ns: number): number => Math.round(ns / 1e3);
const gapUs = (fromNs: number | undefined, toNs: number | undefined): number | null =>
  fromNs === undefined || toNs === undefined ? null : us(Math.max(0, toNs - fromNs));

interface Held { rec: MessageRecord; next: (rec: MessageRecord) => void; pushedMs: number }

export class KernelStage implements RecordStage, KernelEventSink {
  private readonly byKey = new Map<string, ByteStream>();
  readonly c2sLsptapRead: ByteStream;
  readonly c2sLsptapWrite: ByteStream;
  readonly c2sServerRead: ByteStream;
  readonly s2cServerWrite: ByteStream;
  readonly s2cLsptapRead: ByteStream;
  readonly s2cLsptapWrite: ByteStream;
  readonly s2cEditorRead: ByteStream | null;
  readonly tree: TreeAccounting;
  private readonly queue: Held[] = [];
  private head = 0;
  ioEvents = 0;
  /** Io events on no registered stream (should stay 0: the kernel filters by pid and fd). */
  strayEvents = 0;

  /** tree: the server's process tree, which this stage reads windows from. */
  constructor(fds: StreamFds, private readonly holdMs: number, private readonly feed: KernelFeed, tree: TreeAccounting) {
    this.tree = tree;
    const reg = (pid: number, fd: number, read: boolean, label: string): ByteStream => {
      const s = new ByteStream(label);
      this.byKey.set(`${pid}:${fd}:${read ? 'r' : 'w'}`, s);
      return s;
    };
    this.c2sLsptapRead = reg(fds.lsptapPid, fds.lsptapIn, true, 'lsptap reads the editor');
    this.c2sLsptapWrite = reg(fds.lsptapPid, fds.lsptapToServer, false, 'lsptap writes the server');
    this.c2sServerRead = reg(fds.serverPid, fds.serverIn ?? 0, true, 'server reads stdin');
    this.s2cServerWrite = reg(fds.serverPid, fds.serverOut ?? 1, false, 'server writes stdout');
    this.s2cLsptapRead = reg(fds.lsptapPid, fds.lsptapFromServer, true, 'lsptap reads the server');
    this.s2cLsptapWrite = reg(fds.lsptapPid, fds.lsptapOut, false, 'lsptap writes the editor');
    this.s2cEditorRead = fds.editorPid !== null && fds.editorIn !== null ? reg(fds.editorPid, fds.editorIn, true, 'editor reads lsptap') : null;
  }

  readonly onIo = (e: IoEvent): void => {
    this.ioEvents++;
    const s = this.byKey.get(`${e.pid}:${e.fd}:${e.isRead ? 'r' : 'w'}`);
    if (s === undefined) { this.strayEvents++; return; }
    s.add(e);
  };

  readonly onTree = (e: TreeEvent): void => { this.tree.add(e); };

  /** Read the rings (the drain timer calls this when nothing is held). */
  drain(): void { this.feed.drain(this); }

  push(rec: MessageRecord, next: (rec: MessageRecord) => void): void {
    this.queue.push({ rec, next, pushedMs: Date.now() });
    this.pump(false);
  }

  /** Drain the rings, then pass on every record that is complete or waited long enough. */
  pump(force: boolean): void {
    if (this.head >= this.queue.length) return;
    this.feed.drain(this);
    const now = Date.now();
    while (this.head < this.queue.length) {
      const h = this.queue[this.head];
      if (!force && !this.complete(h.rec) && now - h.pushedMs < this.holdMs) break;
      this.queue[this.head++] = undefined as unknown as Held;
      h.rec.kernel = this.timing(h.rec);
      h.next(h.rec);
    }
    if (this.head > 1024 && this.head * 2 > this.queue.length) { this.queue.splice(0, this.head); this.head = 0; }
  }

  get heldCount(): number { return this.queue.length - this.head; }

  flush(): Promise<void> {
    this.pump(true);
    return Promise.resolve();
  }

  private complete(rec: MessageRecord): boolean {
    const end = rec.offset + rec.headerBytes + rec.bytes - 1;
    if (rec.dir === 'c2s') return this.c2sServerRead.has(end);
    return this.s2cEditorRead === null ? this.s2cLsptapWrite.has(end) : this.s2cEditorRead.has(end);
  }

  /** Compute the kernel fields of one record. */
  timing(rec: MessageRecord): KernelTiming {
    const start = rec.offset;
    const end = rec.offset + rec.headerBytes + rec.bytes - 1;
    const k: KernelTiming = {};
    if (rec.dir === 'c2s') {
      k.lsptapReadUs = nsToUs(this.c2sLsptapRead.syscallNs(start, end));
      k.lsptapWriteUs = nsToUs(this.c2sLsptapWrite.syscallNs(start, end));
      k.toServerPipeUs = gapUs(this.c2sLsptapWrite.at(end)?.exitNs, this.c2sServerRead.at(end)?.exitNs);
      return k;
    }
    const req = rec.kind === 'response' ? rec.request : null;
    if (req !== null) {
      const qEnd = req.offset + req.headerBytes + req.bytes - 1;
      const readReq = this.c2sServerRead.at(qEnd);
      const writeResp = this.s2cServerWrite.at(start);
      const readReqNs = readReq?.exitNs;
      const writeRespNs = writeResp?.enterNs;
      k.toServerPipeUs = gapUs(this.c2sLsptapWrite.at(qEnd)?.exitNs, readReqNs);
      k.serverUs = gapUs(readReqNs, writeRespNs);
      const w = readReq && writeResp ? this.tree.window(readReq.exitNs, writeResp.enterNs, { method: rec.method, id: rec.id }) : null;
      Object.assign(k, w ?? NO_WINDOW);
    }
    k.toLsptapPipeUs = gapUs(this.s2cServerWrite.at(end)?.exitNs, this.s2cLsptapRead.at(end)?.exitNs);
    k.lsptapReadUs = nsToUs(this.s2cLsptapRead.syscallNs(start, end));
    k.lsptapWriteUs = nsToUs(this.s2cLsptapWrite.syscallNs(start, end));
    k.toEditorPipeUs = this.s2cEditorRead === null ? null : gapUs(this.s2cLsptapWrite.at(end)?.exitNs, this.s2cEditorRead.at(end)?.exitNs);
    return k;
  }
}

function nsToUs(ns: number | null): number | null { return ns === null ? null : us(ns); }

/** A response whose window the kernel did not show: every tree field null. */
const NO_WINDOW: KernelTiming = {
  serverCpuUs: null, serverRunqUs: null, serverBlockedUs: null, blockedOnChildUs: null, blockedOnDiskUs: null,
  blockedOtherUs: null, blockedOtherOn: null, childCpuUs: null, childDiskUs: null, children: null, fileReads: null,
  fileReadBytes: null, pageCacheMisses: null, diskIos: null, diskIoBytes: null, diskIoUs: null, fdsOpened: null, fdsClosed: null,
};
