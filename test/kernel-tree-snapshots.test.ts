// The tree program (bpf/tree.bpf.c) on this very process: watched as a "server", it
// snapshots its totals as it writes a watched fd, so what it did between two writes (sleep,
// wait for a child) is the difference of two snapshots.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import { spawnSync } from 'node:child_process';
import { watchStream } from '../src/probes/loader';
import { watchedPids } from '../src/probes/watched-pids';
import { LoadedProbes } from '../src/probes/kernel-timing';
import { RingReader } from '../src/probes/ring-reader';
import { decodeTreeEvent, TreeMode, WatchedRole, IDLE_CAUSES, type TreeEvent, type TreeSnapshot } from '../src/probes/event-layout';
import { bpfSkipReason } from './helpers/kernel';

const skip = bpfSkipReason();

interface Watched { events: () => TreeEvent[]; mark: () => void }

/** Watch this process as the server with /dev/null as its output; mark() writes one byte. */
function watchSelf(t: { after: (fn: () => void) => void }): Watched {
  const probes = LoadedProbes.load();
  const ring = new RingReader(probes.bpf.mapFd('tree_events'), probes.bpf.mapMaxEntries('tree_events'));
  const fd = fs.openSync('/dev/null', 'w');
  t.after(() => { ring.close(); probes.close(); fs.closeSync(fd); });
  const key = Buffer.alloc(8);
  key.writeUInt32LE(process.pid, 0);
  key.writeInt32LE(fd, 4);
  watchStream(probes.bpf.mapFd('watched_fds'), key);
  watchedPids(probes.bpf).put(process.pid, WatchedRole.server);
  return {
    mark: () => { fs.writeSync(fd, 'x'); },
    events: () => {
      const out: TreeEvent[] = [];
      ring.drain((b, at) => { const e = decodeTreeEvent(b, at); if (e !== null) out.push(e); });
      return out;
    },
  };
}

const snapshots = (events: TreeEvent[]): TreeSnapshot[] => events.filter((e): e is TreeSnapshot => e.kind === 'snapshot' && e.write);

test('a 100 ms sleep of this process between two writes is idle time that a timer ended', { skip }, (t) => {
  const w = watchSelf(t);
  w.mark();
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 100); // futex with a timeout
  w.mark();
  const [a, b] = snapshots(w.events());
  assert.ok(a !== undefined && b !== undefined, 'two snapshots');
  const idleMs = (b.totals.modeNs[TreeMode.idleOther] - a.totals.modeNs[TreeMode.idleOther]) / 1e6;
  assert.ok(idleMs >= 90 && idleMs <= 110 + (b.tsNs - a.tsNs) / 1e6 - 100, `idle-other ${idleMs} ms of a 100 ms sleep`);
  const timerMs = (b.totals.causeNs[IDLE_CAUSES.indexOf('timer')] - a.totals.causeNs[IDLE_CAUSES.indexOf('timer')]) / 1e6;
  assert.ok(timerMs >= 0.9 * idleMs, `timer ${timerMs} ms of ${idleMs} ms idle`);
});

test('a child this process waits for is followed from fork: its exec, exit, CPU, and the idle time it caused', { skip }, (t) => {
  const w = watchSelf(t);
  w.mark();
  // A shell loop: on a CPU the whole time, while this process waits in spawnSync.
  const r = spawnSync('sh', ['-c', 'i=0; while [ $i -lt 200000 ]; do i=$((i+1)); done; exit 3']);
  assert.equal(r.status, 3);
  w.mark();
  const events = w.events();
  const [a, b] = snapshots(events);
  const exec = events.find((e) => e.kind === 'exec' && e.path === '/usr/bin/sh' || e.kind === 'exec' && e.comm === 'sh');
  assert.ok(exec !== undefined && exec.kind === 'exec', `an exec of sh among ${JSON.stringify(events.map((e) => e.kind))}`);
  assert.deepEqual(exec.args.slice(0, 2), ['sh', '-c']);
  const exit = events.find((e) => e.kind === 'exit' && e.pid === exec.pid);
  assert.ok(exit !== undefined && exit.kind === 'exit', 'its exit');
  assert.equal(exit.status >> 8, 3, 'exit code 3');
  const onChildMs = (b.totals.modeNs[TreeMode.idleChild] - a.totals.modeNs[TreeMode.idleChild]) / 1e6;
  const childCpuMs = (b.totals.childCpuNs - a.totals.childCpuNs) / 1e6;
  const wallMs = (exit.tsNs - exit.startNs) / 1e6;
  assert.ok(Math.abs(exit.cpuNs / 1e6 - childCpuMs) <= Math.max(2, 0.05 * childCpuMs), `child CPU ${exit.cpuNs / 1e6} ms in its exit, ${childCpuMs} ms in the totals`);
  assert.ok(onChildMs >= 0.8 * wallMs - 5, `idle while the child ran ${onChildMs} ms; the child lived ${wallMs} ms`);
});
