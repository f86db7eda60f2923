// Both variants of the scheduler programs (tp_btf, and the raw_tp twins the loader falls
// back to on kernels without BTF tracepoints) load and report this very thread blocking
// in a sleep and coming back.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { loadBpf, mapPut, u32Key } from '../src/probes/loader';
import { SCHED_BTF, SCHED_RAW } from '../src/probes/kernel-timing';
import { RingReader } from '../src/probes/ring-reader';
import { decodeSchedEvent, SchedKind, type SchedEvent } from '../src/probes/event-layout';
import { SchedAccounting } from '../src/probes/sched-accounting';
import { bpfSkipReason } from './helpers/kernel';

const skip = bpfSkipReason();

for (const [variant, programs] of [['tp_btf', SCHED_BTF], ['raw_tp', SCHED_RAW]] as const) {
  test(`the ${variant} scheduler programs see this thread block for a 100 ms sleep`, { skip }, (t) => {
    const sched = loadBpf({ file: 'sched.bpf.o', programs: [...programs], allPrograms: [...SCHED_BTF, ...SCHED_RAW] });
    const ring = new RingReader(sched.mapFd('events'), sched.mapMaxEntries('events'));
    t.after(() => { ring.close(); sched.close(); });
    mapPut(sched.mapFd('watched_pids'), u32Key(process.pid), 1);
    const beforeNs = Number(process.hrtime.bigint());
    Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 100); // blocks this thread
    const afterNs = Number(process.hrtime.bigint());
    const events: SchedEvent[] = [];
    ring.drain((b, at) => events.push(decodeSchedEvent(b, at)));
    const mine = events.filter((e) => e.tid === process.pid);
    assert.ok(mine.some((e) => e.kind === SchedKind.switchOut && !e.runnable), 'switched out blocked');
    assert.ok(mine.some((e) => e.kind === SchedKind.wakeup), 'woken up');
    assert.ok(mine.some((e) => e.kind === SchedKind.switchIn), 'switched back in');
    assert.ok(events.every((e) => e.pid === process.pid), 'only the watched process');
    const acc = new SchedAccounting();
    for (const e of mine) acc.add(e);
    const split = acc.split(beforeNs, afterNs);
    assert.ok(split.blockedNs >= 90e6, `blocked ${split.blockedNs} ns in a 100 ms sleep`);
  });
}
