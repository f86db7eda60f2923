// The two ring buffers of one loaded object (io events, tree events), read and decoded into
// a sink: a session's kernel stage, or the listener's fan-out to its connections' stages
// (listen-kernel-timing.ts). The owner drains it when it needs fresh events (a record pushed,
// the drain timer); nothing here calls back up.

import fs from 'node:fs';
import { RingReader } from './ring-reader';
import { decodeIoEvent, decodeTreeEvent, TREE_COUNTERS, TreeCounter, type IoEvent, type TreeEvent } from './event-layout';
import { readCounters, type LoadedBpf } from './loader';

export interface KernelEventSink {
  /** e is the feed's one event object, refilled for the next event: copy what is kept. */
  onIo(e: IoEvent): void;
  onTree(e: TreeEvent): void;
  /**
   * The kernel dropped tree records (the ring was full), all after the last one handed over
   * so far, which was stamped afterNs (0: none yet). Lost io events need no word: the
   * kernel numbers their bytes, so they leave holes in the stream offsets (byte-streams.ts).
   */
  onTreeLost(afterNs: number): void;
}

/**
 * Whether a full tree ring lost records: the feed asks when a drain began on a full ring,
 * and it reads the kernel's drop counter (one map read, only then).
 */
class TreeLossCheck {
  private seen = 0;
  constructor(private readonly treeCounters: number) {}

  /** True when the kernel dropped tree records since the last check. */
  lost(): boolean {
    const n = readCounters(this.treeCounters, TREE_COUNTERS.length)[TreeCounter.drops];
    const more = n > this.seen;
    this.seen = n;
    return more;
  }
}

/** Where the stage gets kernel events from: the rings (KernelFeed), or nothing in a unit test. */
export interface KernelEventSource {
  /** Hand sink every event committed so far; how many. */
  drain(sink: KernelEventSink): number;
}

export class KernelFeed implements KernelEventSource {
  private readonly ioRing: RingReader;
  private readonly treeRing: RingReader;
  /** LSPTAP_BPF_TRACE=PATH: every event read, as a JSON line (debugging). */
  private readonly traceFd: number | null;
  /** Wall time spent draining (performance.now(), in ns: no BigInt per drain). */
  drainNs = 0;
  drains = 0;
  /** Every io event of a drain is decoded into this one object: no allocation per event. */
  private readonly io: IoEvent = { enterNs: 0, exitNs: 0, ret: 0, pid: 0, tid: 0, fd: 0, isRead: false, op: 0, startOff: 0 };

  private readonly treeLoss: TreeLossCheck;
  private lastTreeNs = 0;

  constructor(bpf: LoadedBpf, tracePath: string | undefined) {
    this.ioRing = new RingReader(bpf.mapFd('io_events'), bpf.mapMaxEntries('io_events'));
    this.treeRing = new RingReader(bpf.mapFd('tree_events'), bpf.mapMaxEntries('tree_events'));
    this.treeLoss = new TreeLossCheck(bpf.mapFd('tree_counters'));
    this.traceFd = tracePath ? fs.openSync(tracePath, 'w') : null;
  }

  /** Read everything committed so far into sink; how many records. Never blocks. */
  drain(sink: KernelEventSink): number {
    const t0 = performance.now();
    const before = this.eventsRead;
    // Tree records first: a window's snapshots are taken before (or as) its io events.
    this.treeRing.drain((b, at) => {
      const e = decodeTreeEvent(b, at);
      if (e === null) return;
      this.lastTreeNs = e.tsNs;
      if (this.traceFd !== null) fs.writeSync(this.traceFd, JSON.stringify(e) + '\n');
      sink.onTree(e);
    }, () => { if (this.treeLoss.lost()) sink.onTreeLost(this.lastTreeNs); });
    const io = this.io;
    this.ioRing.drain((b, at) => {
      const e = decodeIoEvent(b, at, io);
      if (this.traceFd !== null) fs.writeSync(this.traceFd, JSON.stringify(e) + '\n');
      sink.onIo(e);
    });
    this.drainNs += (performance.now() - t0) * 1e6;
    this.drains++;
    return this.eventsRead - before;
  }

  get eventsRead(): number { return this.ioRing.records + this.treeRing.records; }

  close(): void {
    this.ioRing.close();
    this.treeRing.close();
    if (this.traceFd !== null) fs.closeSync(this.traceFd);
  }
}
