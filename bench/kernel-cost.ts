// What kernel timing costs, for docs/kernel-timing.md "Cost": load+attach time, one FFI call, draining per
// event, and what a traced syscall costs the process making it (unwatched, and watched
// with an event, and as the server with a snapshot). Run as root: `npm run build && node dist/bench/kernel-cost.js`.

import fs from 'node:fs';
import { define, DataType } from 'ffi-rs';
import { LoadedProbes } from '../src/probes/kernel-timing';
import { watchStream, u32Key, readCounters } from '../src/probes/loader';
import { watchedPids } from '../src/probes/watched-pids';
import { RingReader } from '../src/probes/ring-reader';
import { decodeIoEvent, decodeTreeEvent, WatchedRole } from '../src/probes/event-layout';
import { nativeCalls } from '../src/probes/native';
import { median } from './stats';

const now = (): bigint => process.hrtime.bigint();

function writesNs(fd: number, n: number): number {
  const b = Buffer.alloc(1);
  const t0 = now();
  for (let i = 0; i < n; i++) fs.writeSync(fd, b);
  return Number(now() - t0) / n;
}


function main(): void {
  const devnull = fs.openSync('/dev/null', 'w');
  const N = 200_000;
  const before = median([1, 2, 3].map(() => writesNs(devnull, N)));

  const loads: number[] = [];
  for (let i = 0; i < 5; i++) { const p = LoadedProbes.load(); loads.push(p.loadMs); p.close(); }
  const probes = LoadedProbes.load();
  const attachedUnwatched = median([1, 2, 3].map(() => writesNs(devnull, N)));

  // One FFI call: bpf_map_update_elem with a parameter object built once, and through define().
  const n = nativeCalls();
  const pids = probes.bpf.mapFd('watched_pids');
  const k = u32Key(1), v = u32Key(1);
  let t0 = now();
  for (let i = 0; i < 20_000; i++) n.bpf_map_update_elem(pids, k, v, 0);
  const ffiReusedNs = Number(now() - t0) / 20_000;
  const viaDefine = define({ bpf_map_update_elem: { library: 'lsptap_libbpf', retType: DataType.I32, paramsType: [DataType.I32, DataType.U8Array, DataType.U8Array, DataType.U64] } });
  t0 = now();
  for (let i = 0; i < 20_000; i++) viaDefine.bpf_map_update_elem([pids, k, v, 0]);
  const ffiDefineNs = Number(now() - t0) / 20_000;
  t0 = now();
  for (let i = 0; i < 20_000; i++) n.sysconf(30);
  const ffiSysconfNs = Number(now() - t0) / 20_000;

  // Watched: this process and /dev/null's fd, every write makes an event.
  const key = Buffer.alloc(8); key.writeUInt32LE(process.pid, 0); key.writeInt32LE(devnull, 4);
  watchStream(probes.bpf.mapFd('watched_fds'), key);
  watchedPids(probes.bpf).put(process.pid, WatchedRole.lsptap);
  const ring = new RingReader(probes.bpf.mapFd('io_events'), probes.bpf.mapMaxEntries('io_events'));
  let sink = 0;
  const drain = (): number => ring.drain((b, at) => { sink += decodeIoEvent(b, at).ret; });
  const M = 15_000; // fits the 1 MiB ring (48 bytes a record) without draining
  const watched: number[] = [];
  const drainPerEvent: number[] = [];
  for (let r = 0; r < 5; r++) {
    watched.push(writesNs(devnull, M));
    t0 = now();
    const got = drain();
    drainPerEvent.push(Number(now() - t0) / got);
  }
  t0 = now();
  for (let i = 0; i < 10_000; i++) drain();
  const emptyDrainNs = Number(now() - t0) / 10_000;
  // Watched as the server: each write to its stream fd also makes a tree snapshot record
  // (the spin-locked copy of the totals), the edge of a request's window.
  watchedPids(probes.bpf).put(process.pid, WatchedRole.server);
  const treeRing = new RingReader(probes.bpf.mapFd('tree_events'), probes.bpf.mapMaxEntries('tree_events'));
  const asServer: number[] = [];
  const treeDrainPerEvent: number[] = [];
  const S = 4000; // 4,000 snapshots of 256 bytes (264 with the header) fit the 2 MiB ring
  for (let r = 0; r < 5; r++) {
    asServer.push(writesNs(devnull, S));
    drain();
    t0 = now();
    const got = treeRing.drain((b, at) => { sink += decodeTreeEvent(b, at)?.pid ?? 0; });
    treeDrainPerEvent.push(Number(now() - t0) / got);
  }
  treeRing.close();
  const counters = readCounters(probes.bpf.mapFd('io_counters'), 3);
  ring.close();
  probes.close();
  const after = median([1, 2, 3].map(() => writesNs(devnull, N)));

  const r = (x: number): number => Math.round(x);
  const report = {
    loadAttachMs: { median: Math.round(median(loads) * 10) / 10, all: loads.map((x) => Math.round(x * 10) / 10) },
    writeSyscallNs: { noBpf: r(before), attachedNotWatched: r(attachedUnwatched), watchedWithEvent: r(median(watched)), asServerWithSnapshot: r(median(asServer)), afterTeardown: r(after) },
    ffiCallNs: { mapUpdateParamsBuiltOnce: r(ffiReusedNs), mapUpdateViaDefine: r(ffiDefineNs), sysconf: r(ffiSysconfNs) },
    drainNsPerEvent: Math.round(median(drainPerEvent) * 10) / 10,
    drainNsPerSnapshot: Math.round(median(treeDrainPerEvent) * 10) / 10,
    emptyDrainNs: r(emptyDrainNs),
    events: { read: ring.records, kernelCounted: counters[0], drops: counters[1] + counters[2] },
    sink,
  };
  process.stdout.write(JSON.stringify(report, null, 2) + '\n');
}

main();
