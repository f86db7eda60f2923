// The server's descendants already running when a session is first watched (a server
// spawned while the probes loaded starts tsserver at `initialize`) get their CPU slots
// (bpf/tree.bpf.c) from here, before the server is watched: nothing of the tree is counted
// yet, so the kernel's tree_state is still all zeros and no program writes it. A window's
// edges then carry each one's CPU as a forked child's, 0 until it first runs. One forked in
// the moment between this and the server's entry is adopted by the kernel at its first
// state change instead (adopt()).

import fs from 'node:fs';
import { mapPutBytes, u32Key, type LoadedBpf } from './loader';
import { TREE_CHILD_SLOTS } from './event-layout';
import type { RunningProcess } from './peer-process';

/** struct child_slot { u32 pid; u32 n_oncpu; u64 cpu_ns; u64 since_sum; }: tree_state's last field, TREE_CHILD_SLOTS of them. */
const CHILD_SLOT_BYTES = 24;
/** struct proc_stats { u64 start_ns, cpu_ns, disk_ns; u32 slot; u32 pad; } */
const PROC_STATS_BYTES = 32;
const PROC_SLOT_AT = 24;

/** Give the first TREE_CHILD_SLOTS of found a slot and every one a procs entry; call before the server is in watched_pids. */
export function claimChildSlots(bpf: LoadedBpf, found: readonly RunningProcess[]): void {
  if (found.length === 0) return;
  const treeFd = bpf.mapFd('tree');
  const stateBytes = mapValueSize(treeFd);
  const state = Buffer.alloc(stateBytes);
  const procsFd = bpf.mapFd('procs');
  found.forEach((p, i) => {
    const slot = i < TREE_CHILD_SLOTS ? i + 1 : 0;
    if (slot > 0) state.writeUInt32LE(p.pid, stateBytes - TREE_CHILD_SLOTS * CHILD_SLOT_BYTES + i * CHILD_SLOT_BYTES);
    const stats = Buffer.alloc(PROC_STATS_BYTES);
    stats.writeBigUInt64LE(BigInt(Math.max(0, Math.round(p.startNs))), 0);
    stats.writeUInt32LE(slot, PROC_SLOT_AT);
    mapPutBytes(procsFd, u32Key(p.pid), stats);
  });
  mapPutBytes(treeFd, u32Key(0), state);
}

/** A BPF map's value size, from its fd's fdinfo (no libbpf map object needed: the light loader has none). */
function mapValueSize(fd: number): number {
  const m = /^value_size:\s*(\d+)$/m.exec(fs.readFileSync(`/proc/self/fdinfo/${fd}`, 'latin1'));
  if (m === null) throw new Error(`no value_size in the fdinfo of map fd ${fd}`);
  return Number(m[1]);
}
