// The server's fd table, kept in the kernel (bpf/tree.bpf.c, map server_fds): this very
// process watched as the server, opening and closing real files. What it opens is entered
// with its path, closing takes it out, the count rides in the snapshots, and a full table
// is counted instead of silently undercounting.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { mapPutBytes, watchStream, readCounters, readHashMap } from '../src/probes/loader';
import { watchedPids } from '../src/probes/watched-pids';
import { LoadedProbes } from '../src/probes/kernel-timing';
import { RingReader } from '../src/probes/ring-reader';
import { decodeTreeEvent, decodeServerFd, WatchedRole, TreeCounter, TREE_COUNTERS, SERVER_FD, IO_FD_KEY, type ServerFd, type TreeSnapshot } from '../src/probes/event-layout';
import { bpfSkipReason } from './helpers/kernel';
import { tmpDir } from './helpers/index';

const skip = bpfSkipReason();
const NR_OPENAT = 257;

interface Watched {
  /** Write one byte to the watched fd: a snapshot of the totals. */
  mark(): void;
  /** The write snapshots taken since the last call. */
  snapshots(): TreeSnapshot[];
  /** This process's entries in server_fds. */
  table(): ServerFd[];
  counter(slot: number): number;
  tableFd: number;
  tableSize: number;
}

function fdKey(pid: number, fd: number): Buffer {
  const k = Buffer.alloc(IO_FD_KEY.size);
  k.writeUInt32LE(pid, IO_FD_KEY.fields.pid);
  k.writeInt32LE(fd, IO_FD_KEY.fields.fd);
  return k;
}

/** Watch this process as the server with /dev/null as its output. */
function watchSelf(t: { after: (fn: () => void) => void }): Watched {
  const probes = LoadedProbes.load();
  const ring = new RingReader(probes.bpf.mapFd('tree_events'), probes.bpf.mapMaxEntries('tree_events'));
  const out = fs.openSync('/dev/null', 'w');
  t.after(() => { ring.close(); probes.close(); fs.closeSync(out); });
  watchStream(probes.bpf.mapFd('watched_fds'), fdKey(process.pid, out));
  watchedPids(probes.bpf).put(process.pid, WatchedRole.server);
  const tableFd = probes.bpf.mapFd('server_fds');
  return {
    tableFd, tableSize: probes.bpf.mapMaxEntries('server_fds'),
    mark: () => { fs.writeSync(out, 'x'); },
    snapshots: () => {
      const got: TreeSnapshot[] = [];
      ring.drain((b, at) => { const e = decodeTreeEvent(b, at); if (e !== null && e.kind === 'snapshot' && e.write) got.push(e); });
      return got;
    },
    table: () => {
      const rows: ServerFd[] = [];
      readHashMap(tableFd, IO_FD_KEY.size, SERVER_FD.size, (k, ka, v, va) => rows.push(decodeServerFd(k, ka, v, va)));
      return rows.filter((r) => r.pid === process.pid);
    },
    counter: (slot) => readCounters(probes.bpf.mapFd('tree_counters'), TREE_COUNTERS.length)[slot],
  };
}

test('a file the server opens is in the kernel\'s fd table with its path until it closes it, and the snapshots count it', { skip }, (t) => {
  const file = path.join(tmpDir(t, { worldWritable: true }), 'open-me.txt');
  fs.writeFileSync(file, 'x');
  const w = watchSelf(t);
  w.mark();
  const fd = fs.openSync(file, 'r');
  w.mark();
  const entry = w.table().find((e) => e.fd === fd);
  fs.closeSync(fd);
  w.mark();
  assert.ok(entry !== undefined, 'the open fd is in the table');
  assert.equal(entry.path, file);
  assert.equal(entry.nr, NR_OPENAT);
  assert.ok(entry.openedNs > 0);
  assert.equal(w.table().find((e) => e.fd === fd), undefined, 'closed: out of the table');
  const [a, b, c] = w.snapshots();
  assert.ok(a !== undefined && b !== undefined && c !== undefined, 'three snapshots');
  assert.ok(a.tsNs < entry.openedNs && entry.openedNs < b.tsNs, 'opened between the first two snapshots');
  assert.deepEqual([b.totals.fdsOpenDelta - a.totals.fdsOpenDelta, c.totals.fdsOpenDelta - b.totals.fdsOpenDelta], [1, -1]);
  assert.deepEqual([c.totals.fdsOpened - a.totals.fdsOpened, c.totals.fdsClosed - a.totals.fdsClosed], [1, 1]);
  assert.ok(w.counter(TreeCounter.fdPeak) >= b.totals.fdsOpenDelta, 'the peak is at least the count while it was open');
  assert.equal(w.counter(TreeCounter.fdTableFull), 0);
});

test('an fd opened while the kernel\'s fd table is full is counted as such, and neither its open nor its close moves the count', { skip, timeout: 120_000 }, (t) => {
  const file = path.join(tmpDir(t, { worldWritable: true }), 'no-room.txt');
  fs.writeFileSync(file, 'x');
  const w = watchSelf(t);
  // Fill the table with another process's entries (pid 0 is never a server).
  const value = Buffer.alloc(SERVER_FD.size);
  for (let i = 0; i < w.tableSize; i++) mapPutBytes(w.tableFd, fdKey(0, i), value);
  w.mark();
  const fd = fs.openSync(file, 'r');
  w.mark();
  fs.closeSync(fd);
  w.mark();
  const [a, b, c] = w.snapshots();
  assert.ok(a !== undefined && b !== undefined && c !== undefined, 'three snapshots');
  assert.equal(w.counter(TreeCounter.fdTableFull), 1);
  assert.deepEqual([b.totals.fdsOpenDelta - a.totals.fdsOpenDelta, c.totals.fdsOpenDelta - b.totals.fdsOpenDelta], [0, 0]);
  assert.equal(c.totals.fdsOpened - a.totals.fdsOpened, 1, 'the open is still counted in the window');
  assert.equal(w.table().length, 0);
});
