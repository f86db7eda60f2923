// The processes a loaded object watches: watched_pids (tgid -> role) and the bitmap that
// lets the programs skip every other process with one array lookup (bpf/common.bpf.h).
// Userspace is the only writer of watched_root_bits, one u64 word at a time, each word
// written whole from this set of roots (never read back and changed, so no bit is lost);
// the kernel keeps its own bitmap for the descendants it adds at fork.

import { mapPut, mapPutBytes, u32Key, type LoadedBpf } from './loader';
import { nativeCalls } from './native';
import type { WatchedRoleValue } from './event-layout';

const WORD_BITS = 64;
/** Words of watched_root_bits (WATCH_BITMAP_WORDS in bpf/common.bpf.h): one bit per tgid below 2^22. */
const BITMAP_WORDS = 1 << 16;

export class WatchedPids {
  private readonly roots = new Set<number>();
  private readonly pidsFd: number;
  private readonly bitsFd: number;

  constructor(bpf: LoadedBpf) {
    this.pidsFd = bpf.mapFd('watched_pids');
    this.bitsFd = bpf.mapFd('watched_root_bits');
  }

  /** Watch pid in this role: its entry first, then its bit (the bit sends the programs to the entry). */
  put(pid: number, role: WatchedRoleValue): void {
    mapPut(this.pidsFd, u32Key(pid), role);
    this.roots.add(pid);
    this.writeWord(pid);
  }

  /** Stop watching pid: its bit first, then its entry. */
  delete(pid: number): void {
    if (this.roots.delete(pid)) this.writeWord(pid);
    nativeCalls().bpf_map_delete_elem(this.pidsFd, u32Key(pid));
  }

  /** Write pid's word of the bitmap from the roots that fall in it. */
  private writeWord(pid: number): void {
    const word = Math.floor(pid / WORD_BITS) % BITMAP_WORDS;
    let bits = 0n;
    for (const r of this.roots) if (Math.floor(r / WORD_BITS) % BITMAP_WORDS === word) bits |= 1n << BigInt(r % WORD_BITS);
    const value = Buffer.alloc(8);
    value.writeBigUInt64LE(bits);
    mapPutBytes(this.bitsFd, u32Key(word), value);
  }
}

const byObject = new WeakMap<LoadedBpf, WatchedPids>();

/** The one WatchedPids of a loaded object (its bitmap words must have one writer). */
export function watchedPids(bpf: LoadedBpf): WatchedPids {
  let w = byObject.get(bpf);
  if (w === undefined) { w = new WatchedPids(bpf); byObject.set(bpf, w); }
  return w;
}
