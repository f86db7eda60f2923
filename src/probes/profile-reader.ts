// Reads what the profiler counted (bpf/profile.bpf.c): the counts and the stacks new since
// the last read, each map emptied as it is read (lookup-and-delete batches: a few FFI calls
// per read, none per sample). Stacks are keyed by a hash of their frames, so one read once
// is kept here by that hash for the rest of the session.

import { MapBatches, readCounters, type LoadedBpf } from './loader';
import { PROFILE_KEY, PROFILE_VALUE, PROFILE_STACK, PROFILE_COUNTERS, decodeProfileCount, decodeStack, type ProfileCount } from './profile-layout';

/** What the kernel lost: samples whose count found profile_counts full, stacks profile_stacks full, blocked ns not charged. */
export interface ProfileLosses { samples: number; waits: number; countsFull: number; stacksFull: number; lostWaitNs: number }

export class ProfileReader {
  /** Stack hash -> return addresses, leaf first. */
  readonly stacks = new Map<bigint, bigint[]>();
  /** The stacks the last take() read (new since the one before). */
  readonly fresh: bigint[][] = [];
  reads = 0;
  readNs = 0n;
  private readonly counts: MapBatches;
  private readonly newStacks: MapBatches;
  private readonly countersFd: number;
  private closed = false;

  constructor(bpf: LoadedBpf) {
    this.countersFd = bpf.mapFd('profile_counters');
    this.counts = new MapBatches(bpf.mapFd('profile_counts'), PROFILE_KEY.size, PROFILE_VALUE.size);
    this.newStacks = new MapBatches(bpf.mapFd('profile_stacks'), 8, PROFILE_STACK.size);
  }

  /**
   * Every count since the last call. Counts are read before stacks: the kernel enters a
   * stack before the count that names it, so every count read has its stack read by now.
   */
  take(): ProfileCount[] {
    const t0 = process.hrtime.bigint();
    const out: ProfileCount[] = [];
    this.fresh.length = 0;
    if (this.closed) return out;
    this.counts.take((k, ka, v, va) => out.push(decodeProfileCount(k, ka, v, va)));
    this.newStacks.take((k, ka, v, va) => {
      const pcs = decodeStack(v, va);
      this.stacks.set(k.readBigUInt64LE(ka), pcs);
      this.fresh.push(pcs);
    });
    this.reads++;
    this.readNs += process.hrtime.bigint() - t0;
    return out;
  }

  /** Free the read buffers; take() reads nothing after. Safe to call twice. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.counts.free();
    this.newStacks.free();
  }

  /** The kernel's profile counters (one map read). */
  losses(): ProfileLosses {
    const c = readCounters(this.countersFd, PROFILE_COUNTERS.length);
    return { samples: c[0], countsFull: c[1], stacksFull: c[2], waits: c[3], lostWaitNs: c[4] };
  }
}
