// The kernel's timestamps and lsptap's are compared directly, so they must be one clock:
// bpf_ktime_get_ns() is CLOCK_MONOTONIC, and so is process.hrtime (libuv's uv_hrtime).
// Also: the JS ring buffer reader loses nothing the kernel submitted.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import { LoadedProbes } from '../src/probes/kernel-timing';
import { watchStream, readCounters } from '../src/probes/loader';
import { watchedPids } from '../src/probes/watched-pids';
import { RingReader } from '../src/probes/ring-reader';
import { decodeIoEvent, IoOp, WatchedRole, type IoEvent } from '../src/probes/event-layout';
import { bpfSkipReason } from './helpers/kernel';

const skip = bpfSkipReason();

function watchDevNull(t: { after: (fn: () => void) => void }): { probes: LoadedProbes; ring: RingReader; fd: number } {
  const probes = LoadedProbes.load();
  const fd = fs.openSync('/dev/null', 'w');
  const ring = new RingReader(probes.bpf.mapFd('io_events'), probes.bpf.mapMaxEntries('io_events'));
  t.after(() => { ring.close(); probes.close(); fs.closeSync(fd); });
  const key = Buffer.alloc(8);
  key.writeUInt32LE(process.pid, 0);
  key.writeInt32LE(fd, 4);
  watchStream(probes.bpf.mapFd('watched_fds'), key);
  watchedPids(probes.bpf).put(process.pid, WatchedRole.lsptap);
  return { probes, ring, fd };
}

test('bpf_ktime_get_ns and process.hrtime are one clock: each write event lies between the hrtimes around it', { skip }, (t) => {
  const { ring, fd } = watchDevNull(t);
  const b = Buffer.from('x');
  const around: [bigint, bigint][] = [];
  for (let i = 0; i < 1000; i++) {
    const before = process.hrtime.bigint();
    fs.writeSync(fd, b);
    around.push([before, process.hrtime.bigint()]);
  }
  const events: IoEvent[] = [];
  ring.drain((buf, at) => events.push(decodeIoEvent(buf, at)));
  assert.equal(events.length, 1000);
  let minLeadNs = Infinity, maxLeadNs = -Infinity;
  for (let i = 0; i < 1000; i++) {
    const e = events[i];
    const [before, after] = around[i];
    assert.equal(e.op, IoOp.write);
    assert.equal(e.ret, 1);
    assert.ok(BigInt(e.enterNs) >= before && BigInt(e.exitNs) <= after && e.enterNs <= e.exitNs,
      `event ${i}: enter ${e.enterNs} exit ${e.exitNs} not within hrtime [${before}, ${after}]`);
    const lead = e.enterNs - Number(before);
    minLeadNs = Math.min(minLeadNs, lead);
    maxLeadNs = Math.max(maxLeadNs, lead);
  }
  t.diagnostic(`hrtime before write -> kernel sys_enter: min ${minLeadNs} ns, max ${maxLeadNs} ns`);
});

test('the ring buffer reader reads exactly the events the kernel counted, with no drops', { skip }, (t) => {
  const { probes, ring, fd } = watchDevNull(t);
  const b = Buffer.from('y');
  let read = 0;
  for (let round = 0; round < 5; round++) {
    for (let i = 0; i < 10_000; i++) fs.writeSync(fd, b);
    read += ring.drain(() => { /* count only */ });
  }
  const [events, drops, inflightFull] = readCounters(probes.bpf.mapFd('io_counters'), 3);
  assert.equal(read, 50_000);
  assert.equal(events, 50_000);
  assert.equal(drops + inflightFull, 0);
});
