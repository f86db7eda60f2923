// The two ring buffers of one session (io events, tree events), read and decoded into the
// kernel stage. The stage owns its feed and drains it when it needs fresh events (a record
// pushed, the drain timer); nothing here calls back up.

import fs from 'node:fs';
import { RingReader } from './ring-reader';
import { decodeIoEvent, decodeTreeEvent, IO_COUNTERS, TREE_COUNTERS, TreeCounter, type IoEvent, type TreeEvent } from './event-layout';
import { readCounters, type LoadedBpf } from './loader';

export interface KernelEventSink {
  onIo(e: IoEvent): void;
  onTree(e: TreeEvent): void;
  /**
   * The kernel dropped records of this ring (it was full), all after the last one handed
   * over so far, which was stamped afterNs (0: none yet).
   */
  onLost(ring: 'io' | 'tree', afterNs: number): void;
}

/**
 * Where a full ring lost records: the feeds call check() when a drain began on a full ring,
 * and it asks the kernel's drop counter (one map read, only then) whether any were lost.
 */
export class LossCheck {
  private ioSeen = 0;
  private treeSeen = 0;
  constructor(private readonly ioCounters: number, private readonly treeCounters: number) {}

  /** True when the kernel dropped records of ring since the last check. */
  lost(ring: 'io' | 'tree'): boolean {
    if (ring === 'io') {
      const c = readCounters(this.ioCounters, IO_COUNTERS.length);
      const n = c[1] + c[2];
      const more = n > this.ioSeen;
      this.ioSeen = n;
      return more;
    }
    const n = readCounters(this.treeCounters, TREE_COUNTERS.length)[TreeCounter.drops];
    const more = n > this.treeSeen;
    this.treeSeen = n;
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
  drainNs = 0n;
  drains = 0;

  private readonly loss: LossCheck;
  private lastIoNs = 0;
  private lastTreeNs = 0;

  constructor(bpf: LoadedBpf, tracePath: string | undefined) {
    this.ioRing = new RingReader(bpf.mapFd('io_events'), bpf.mapMaxEntries('io_events'));
    this.treeRing = new RingReader(bpf.mapFd('tree_events'), bpf.mapMaxEntries('tree_events'));
    this.loss = new LossCheck(bpf.mapFd('io_counters'), bpf.mapFd('tree_counters'));
    this.traceFd = tracePath ? fs.openSync(tracePath, 'w') : null;
  }

  /** Read everything committed so far into sink; how many records. Never blocks. */
  drain(sink: KernelEventSink): number {
    const t0 = process.hrtime.bigint();
    const before = this.eventsRead;
    // Tree records first: a window's snapshots are taken before (or as) its io events.
    this.treeRing.drain((b, at) => {
      const e = decodeTreeEvent(b, at);
      if (e === null) return;
      this.lastTreeNs = e.tsNs;
      if (this.traceFd !== null) fs.writeSync(this.traceFd, JSON.stringify(e) + '\n');
      sink.onTree(e);
    }, () => { if (this.loss.lost('tree')) sink.onLost('tree', this.lastTreeNs); });
    this.ioRing.drain((b, at) => {
      const e = decodeIoEvent(b, at);
      this.lastIoNs = e.exitNs;
      if (this.traceFd !== null) fs.writeSync(this.traceFd, JSON.stringify(e) + '\n');
      sink.onIo(e);
    }, () => { if (this.loss.lost('io')) sink.onLost('io', this.lastIoNs); });
    this.drainNs += process.hrtime.bigint() - t0;
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
