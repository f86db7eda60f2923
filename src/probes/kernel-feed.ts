// The two ring buffers of one session (io events, tree events), read and decoded into the
// kernel stage. The stage owns its feed and drains it when it needs fresh events (a record
// pushed, the drain timer); nothing here calls back up.

import fs from 'node:fs';
import { RingReader } from './ring-reader';
import { decodeIoEvent, decodeTreeEvent, type IoEvent, type TreeEvent } from './event-layout';
import type { LoadedBpf } from './loader';

export interface KernelEventSink {
  onIo(e: IoEvent): void;
  onTree(e: TreeEvent): void;
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

  constructor(bpf: LoadedBpf, tracePath: string | undefined) {
    this.ioRing = new RingReader(bpf.mapFd('io_events'), bpf.mapMaxEntries('io_events'));
    this.treeRing = new RingReader(bpf.mapFd('tree_events'), bpf.mapMaxEntries('tree_events'));
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
      if (this.traceFd !== null) fs.writeSync(this.traceFd, JSON.stringify(e) + '\n');
      sink.onTree(e);
    });
    this.ioRing.drain((b, at) => {
      const e = decodeIoEvent(b, at);
      if (this.traceFd !== null) fs.writeSync(this.traceFd, JSON.stringify(e) + '\n');
      sink.onIo(e);
    });
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
