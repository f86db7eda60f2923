// The arithmetic that turns kernel events into fields, on event sequences written out by
// hand: finding the syscall that moved a byte, when a server's fd count is growth, and the
// fd report from the kernel's fd table.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { FdTrend } from '../src/probes/tree-accounting';

function fdGrowth(samples: number[]): ReturnType<FdTrend['growth']> {
  const trend = new FdTrend();
  for (const n of samples) trend.add(n);
  return trend.growth();
}
import { ByteStream } from '../src/probes/byte-streams';
import { IoOp, IDLE_CAUSES, type TreeTotals } from '../src/probes/event-layout';
import { KernelStage } from '../src/probes/kernel-stage';
import { TreeAccounting } from '../src/probes/tree-accounting';
import type { MessageRecord } from '../src/model/record';

test('a byte stream finds the syscall that moved each byte and ignores calls that moved none', () => {
  const b = new ByteStream('test');
  let moved = 0; // the kernel's count (struct io_fd_bytes)
  const io = (ret: number, enterNs: number, exitNs: number) => { const e = { enterNs, exitNs, ret, pid: 1, tid: 1, fd: 3, isRead: true, op: IoOp.read, startOff: moved }; moved += Math.max(0, ret); return e; };
  b.add(io(10, 100, 110)); // bytes 0-9
  b.add(io(-11, 120, 121)); // EAGAIN
  b.add(io(5, 130, 150)); // bytes 10-14
  b.add(io(7, 0, 170)); // began before tracing: bytes 15-21, duration unknown
  assert.equal(b.at(0)!.exitNs, 110);
  assert.equal(b.at(9)!.exitNs, 110);
  assert.equal(b.at(10)!.enterNs, 130);
  assert.equal(b.at(21)!.exitNs, 170);
  assert.equal(b.at(22), null);
  assert.equal(b.has(21), true);
  assert.equal(b.has(22), false);
  assert.equal(b.syscallNs(5, 12), 10 + 20);
  assert.equal(b.syscallNs(15, 21), 0);
});

test('a byte stream that keeps thousands of calls, forgets old ones and takes racing calls out of order still finds each byte\'s call', () => {
  const b = new ByteStream('test');
  const io = (startOff: number, ret: number, exitNs: number) => ({ enterNs: exitNs - 5, exitNs, ret, pid: 1, tid: 1, fd: 3, isRead: true, op: IoOp.read, startOff });
  // 5,000 calls of 10 bytes; every 7th pair arrives swapped (two threads on one fd); forgotten
  // below a point that trails by 300 calls, so the kept calls are moved to the front and the
  // room grows past its first size on the way.
  for (let i = 0; i < 5000; i += 2) {
    const first = io(i * 10, 10, 1000 + i), second = io((i + 1) * 10, 10, 1001 + i);
    if (i % 7 === 0) { b.add(second); b.add(first); } else { b.add(first); b.add(second); }
    if (i % 256 === 0 && i > 300) b.forgetBelow((i - 300) * 10);
    const probe = i - 150;
    if (probe >= 0) {
      assert.equal(b.exitNsAt(probe * 10 + 3), 1000 + probe, `call ${probe} at call ${i}`);
      assert.equal(b.syscallNs(probe * 10, probe * 10 + 19), 10);
    }
  }
  assert.ok(b.kept < 700, `kept ${b.kept}`);
  assert.equal(b.exitNsAt(0), undefined, 'forgotten');
  assert.equal(b.exitNsAt(49_999), 1000 + 4999);
});

test('fd growth needs the count to rise over at least 5 requests without falling, by at least 5', () => {
  assert.deepEqual(fdGrowth([9, 10, 11, 12, 13, 14]), { rises: 5, from: 9, to: 14 });
  assert.deepEqual(fdGrowth([9, 10, 10, 11, 12, 12, 13, 16]), { rises: 5, from: 9, to: 16 });
  assert.equal(fdGrowth([9, 10, 11, 12, 13]), null, 'only 4 rises');
  assert.equal(fdGrowth([9, 10, 11, 12, 13, 14, 9]), null, 'fell back');
  assert.equal(fdGrowth([9, 9, 9, 9, 9, 9, 9]), null, 'flat');
  assert.equal(fdGrowth([]), null);
});

test('fd growth is judged from a running trend: a million requests leave it the same as five', () => {
  const trend = new FdTrend();
  for (let i = 0; i < 1_000_000; i++) trend.add(9 + Math.min(5, Math.floor(i / 150_000)));
  assert.deepEqual(trend.growth(), { rises: 5, from: 9, to: 14 });
  assert.equal(trend.last, 14);
});

test('a byte stream that had moved bytes before watching starts at that count and skips the calls already in it', () => {
  const b = new ByteStream('editor writes lsptap');
  let moved = 0; // the kernel's count, from when the editor was watched
  const io = (ret: number, enterNs: number, exitNs: number) => { const e = { enterNs, exitNs, ret, pid: 1, tid: 1, fd: 3, isRead: false, op: IoOp.write, startOff: moved }; moved += ret; return e; };
  b.startAt(88, 1000); // 88 bytes waited in the pipe when it was read at 1000 ns
  b.add(io(88, 0, 990)); // a write that returned before the reading: already counted
  b.add(io(55, 1200, 1250)); // bytes 88-142
  assert.equal(b.at(87), null, 'bytes written before watching have no syscall');
  assert.equal(b.at(88)!.exitNs, 1250);
  assert.equal(b.at(142)!.exitNs, 1250);
  assert.equal(b.total, 143);
  assert.equal(b.syscalls, 1);
});

test('a count taken while a call was under way places that call by its rule, or loses the stream rather than join it wrong', () => {
  const reads = (): { b: ByteStream; io: (ret: number, enterNs: number, exitNs: number) => ReturnType<typeof ev> } => {
    const b = new ByteStream('server reads');
    let moved = 0;
    return { b, io: (ret, enterNs, exitNs) => { const e = ev(ret, enterNs, exitNs, moved); moved += ret; return e; } };
  };
  const ev = (ret: number, enterNs: number, exitNs: number, startOff: number) => ({ enterNs, exitNs, ret, pid: 2, tid: 9, fd: 0, isRead: true, op: IoOp.read, startOff });
  // The queue was read between 1000 and 1010 ns: 300 of the 500 bytes lsptap wrote had been read.
  const rule = (where: 'before' | 'after' | null) => ({ beganByNs: 1010, judge: () => where });
  // Asleep in a read since before the count (it had copied nothing): its bytes are the next ones.
  let { b, io } = reads();
  b.startAt(300, 1000, rule('after'));
  b.add(io(200, 500, 900)); // returned before: in the 300
  b.add(io(120, 800, 2000)); // under way across the count: bytes 300-419
  b.add(io(80, 2100, 2200)); // 420-499
  assert.deepEqual([b.at(300)!.exitNs, b.at(419)!.exitNs, b.at(420)!.exitNs, b.total], [2000, 2000, 2200, 500]);
  // It had taken its bytes before the count: they are in it.
  ({ b, io } = reads());
  b.startAt(300, 1000, rule('before'));
  b.add(io(120, 800, 1500)); // bytes 180-299
  b.add(io(80, 2100, 2200)); // 300-379
  assert.deepEqual([b.at(299), b.at(300)!.exitNs, b.total], [null, 2200, 380]);
  // Nobody knows: every later offset would be off by up to 120 bytes, so none is given.
  ({ b, io } = reads());
  b.startAt(300, 1000, rule(null));
  b.add(io(120, 800, 1500));
  b.add(io(80, 2100, 2200));
  assert.deepEqual([b.at(300), b.at(450), b.offsetOfCount(200), b.has(10_000)], [null, null, null, true]);
  // A call that began after the count needs no rule, nor does any after it.
  ({ b, io } = reads());
  b.startAt(300, 1000, { beganByNs: 1010, judge: () => assert.fail('no call was under way') });
  b.add(io(50, 1020, 1100));
  b.add(io(50, 1200, 1300));
  assert.deepEqual([b.at(300)!.exitNs, b.at(399)!.exitNs], [1100, 1300]);
});

/** A stage for lsptap (pid 1), a server (2) and an editor (3), and a way to feed it the kernel's io events. */
function stageWithIo(): { stage: KernelStage; io: (pid: number, fd: number, isRead: boolean, ret: number, enterNs: number, exitNs: number) => void } {
  const stage = new KernelStage({ lsptapPid: 1, serverPid: 2, editorPid: 3, lsptapIn: 0, lsptapOut: 1, lsptapToServer: 10, lsptapFromServer: 11, editorIn: 5, editorWriterPid: 3, editorOut: 6 }, 1000, { drain: () => 0 }, new TreeAccounting(2, 0, 0));
  const moved = new Map<string, number>(); // the kernel's count per (pid, fd, direction)
  const io = (pid: number, fd: number, isRead: boolean, ret: number, enterNs: number, exitNs: number): void => {
    const k = `${pid}:${fd}:${isRead}`, startOff = moved.get(k) ?? 0;
    moved.set(k, startOff + ret);
    stage.onIo({ enterNs, exitNs, ret, pid, tid: pid, fd, isRead, op: isRead ? IoOp.read : IoOp.write, startOff });
  };
  return { stage, io };
}

/** A 98-byte response (22 header) to a 100-byte request, stamped by JavaScript; pass it through the stage. */
function passResponse(stage: KernelStage, jsLateNs: bigint): { out: MessageRecord | null; request: { offset: number; endOffset: number; forwardedNs: bigint } } {
  const request = { offset: 0, endOffset: 22 + 78 - 1, forwardedNs: 12_000n + jsLateNs };
  const rec: MessageRecord = {
    dir: 's2c', kind: 'response', method: 'm', id: 1, bytes: 98, headerBytes: 22, offset: 0,
    firstByteNs: 430_000n - jsLateNs, lastByteNs: 430_000n - jsLateNs, forwardedNs: 433_000n - jsLateNs, clock: 'js',
    isError: false, latencyMs: Number(430_000n - jsLateNs - request.forwardedNs) / 1e6, request, cancelled: false, cancelsId: null,
    invalidReason: null, unmatched: false, body: null, kernel: null,
  };
  let out: MessageRecord | null = null;
  stage.push(rec, (r) => { out = r; });
  return { out, request };
}

const partsUs = (k: NonNullable<MessageRecord['kernel']>): number => k.toServerPipeUs! + k.serverUs! + k.serverWriteUs! + k.toLsptapPipeUs!;

test('a response takes its stamps and latency from lsptap\'s syscalls, so latency is the sum of its kernel parts however late JavaScript stamped it', () => {
  const { stage, io } = stageWithIo();
  // A 100-byte request, then a 120-byte response the server writes in two parts (header, body).
  io(3, 6, false, 100, 1_000, 2_000); // the editor writes the request
  io(1, 0, true, 100, 5_000, 9_000); // lsptap reads it (7 µs in the pipe)
  io(1, 10, false, 100, 10_000, 12_000); // lsptap writes it to the server
  io(2, 0, true, 100, 0, 15_000); // the server's read returns (3 µs in the pipe)
  io(2, 1, false, 20, 400_000, 401_000); // header write begins after 385 µs of work
  io(2, 1, false, 100, 420_000, 422_000); // body write returns 22 µs later
  io(1, 11, true, 120, 421_000, 430_000); // lsptap's read returns 8 µs after
  io(1, 1, false, 120, 431_000, 433_000); // lsptap writes it to the editor
  io(3, 5, true, 120, 0, 440_000);
  // JavaScript stamped everything 5 ms late (or early: it does not matter)
  const { out, request } = passResponse(stage, 5_000_000n);
  const r = out as MessageRecord | null;
  assert.ok(r !== null, 'complete: the editor read its last byte');
  assert.equal(r.clock, 'kernel');
  assert.deepEqual([r.firstByteNs, r.lastByteNs, r.forwardedNs, request.forwardedNs], [430_000n, 430_000n, 433_000n, 12_000n]);
  const k = r.kernel!;
  assert.deepEqual({ from: k.fromEditorPipeUs, to: k.toServerPipeUs, server: k.serverUs, write: k.serverWriteUs, back: k.toLsptapPipeUs, ed: k.toEditorPipeUs }, { from: 7, to: 3, server: 385, write: 22, back: 8, ed: 7 });
  assert.equal(r.latencyMs! * 1000, partsUs(k));
});

test('a writer preempted after it woke the reader returns after the read: the pipe wait is 0 and the parts still add up to the latency', () => {
  const { stage, io } = stageWithIo();
  io(3, 6, false, 100, 1_000, 2_000);
  io(1, 0, true, 100, 5_000, 9_000);
  io(1, 10, false, 100, 10_000, 112_000); // lsptap's write woke the server, then lsptap waited 100 µs for a CPU
  io(2, 0, true, 100, 0, 12_000); // the server's read returned 100 µs before lsptap's write did
  io(2, 1, false, 20, 400_000, 401_000);
  io(2, 1, false, 100, 420_000, 480_000); // the server's body write woke lsptap, then the server waited for a CPU
  io(1, 11, true, 120, 421_000, 430_000); // lsptap's read returned 50 µs before the server's write did
  io(1, 1, false, 120, 431_000, 433_000);
  io(3, 5, true, 120, 0, 440_000);
  const { out, request } = passResponse(stage, 0n);
  const r = out as MessageRecord | null;
  assert.ok(r !== null && r.kernel !== null);
  const k = r.kernel;
  assert.deepEqual({ to: k.toServerPipeUs, server: k.serverUs, write: k.serverWriteUs, back: k.toLsptapPipeUs }, { to: 0, server: 388, write: 30, back: 0 });
  assert.equal(request.forwardedNs, 12_000n, 'the request had left lsptap when the server read it');
  assert.equal(r.latencyMs! * 1000, partsUs(k));
});

test('the analysis thread reading its own file on a fd number the relay closed adds nothing to the session\'s streams and counts no stray', () => {
  // lsptap (pid 1) wrote the server's stdin on fd 10 from its relay thread (tid 1), then closed
  // it; the analysis thread (tid 7) opened /proc/kallsyms and got 10, which watched_fds still holds.
  const stage = new KernelStage({ lsptapPid: 1, analysisTid: 7, serverPid: 2, editorPid: 3, lsptapIn: 0, lsptapOut: 1, lsptapToServer: 10, lsptapFromServer: 11, editorIn: 5, editorWriterPid: 3, editorOut: 6 }, 1000, { drain: () => 0 }, new TreeAccounting(2, 0, 0));
  stage.onIo({ enterNs: 100, exitNs: 200, ret: 64, pid: 1, tid: 1, fd: 10, isRead: false, op: IoOp.write, startOff: 0 });
  for (let i = 0; i < 3; i++) stage.onIo({ enterNs: 1000 + i, exitNs: 1001 + i, ret: 4096, pid: 1, tid: 7, fd: 10, isRead: true, op: IoOp.read, startOff: 4096 * i });
  stage.onIo({ enterNs: 2000, exitNs: 2001, ret: 4096, pid: 1, tid: 7, fd: 11, isRead: true, op: IoOp.read, startOff: 900 });
  assert.equal(stage.strayEvents, 0);
  assert.equal(stage.analysisThreadEvents, 4);
  assert.equal(stage.ioEvents, 1);
  assert.equal(stage.c2sLsptapWrite.total, 64);
  assert.equal(stage.s2cLsptapRead.total, 0, 'the reads on 11 are not lsptap reading the server');
  // The same read by the relay thread is the session's (or a stray): only the analysis thread is skipped.
  stage.onIo({ enterNs: 3000, exitNs: 3001, ret: 10, pid: 1, tid: 1, fd: 10, isRead: true, op: IoOp.read, startOff: 0 });
  assert.equal(stage.strayEvents, 1);
});

test('the fd report comes from the kernel\'s fd table and the snapshots: fds open at start are not listed, each fd opened since is, with its request, and the count at each request\'s end makes growth', () => {
  const serverPid = 2, startNs = 1_000_000;
  const tree = new TreeAccounting(serverPid, 4, startNs);
  const totals = (fdsOpenDelta: number): TreeTotals => ({
    modeNs: [0, 0, 0, 0], causeNs: IDLE_CAUSES.map(() => 0), serverCpuNs: 0, serverRunqNs: 0, childCpuNs: 0, childRunqNs: 0, childDiskNs: 0,
    fileReads: 0, fileReadBytes: 0, pageCacheMisses: 0, diskIos: 0, diskIoBytes: 0, diskIoNs: 0, fdsOpened: 0, fdsClosed: 0, lastOtherNr: 0, fdsOpenDelta,
  });
  // Six requests; the server keeps one more fd open at the end of each (a leak), after
  // having closed one of its start fds in the first (delta -1, then +1 per request).
  const deltas = [-1, 0, 1, 2, 3, 4];
  deltas.forEach((delta, i) => {
    const readNs = 10e6 * (i + 1), writeNs = readNs + 5e6;
    tree.add({ tsNs: readNs, pid: serverPid, tid: serverPid, kind: 'snapshot', fd: 0, write: false, totals: totals(i === 0 ? 0 : deltas[i - 1]), childCpuNs: new Map() });
    tree.add({ tsNs: writeNs, pid: serverPid, tid: serverPid, kind: 'snapshot', fd: 1, write: true, totals: totals(delta), childCpuNs: new Map() });
    assert.ok(tree.window(readNs, writeNs, { method: 'leak', id: i }) !== null);
  });
  const table = [
    { pid: serverPid, fd: 1, openedNs: 0, nr: 0, path: '' }, // open at start
    { pid: serverPid, fd: 7, openedNs: 22e6, nr: 257, path: '/leaked' }, // inside request 1 (20-25 ms)
    { pid: serverPid, fd: 8, openedNs: 27e6, nr: 22, path: '' }, // between requests: a pipe
    { pid: 99, fd: 9, openedNs: 22e6, nr: 257, path: '/not-the-server' },
  ];
  assert.deepEqual(tree.fdReport(table, 6), {
    startCount: 4, peakCount: 10, endCount: 8,
    stillOpen: [
      { fd: 7, path: '/leaked', atMs: 21, method: 'leak', id: 1 },
      { fd: 8, path: null, atMs: 26, method: null, id: null },
    ],
    growth: { rises: 5, from: 3, to: 8 },
  });
});

test('a call whose event the kernel lost leaves a hole in its stream: its bytes are not placed, the calls after it keep their own offsets', () => {
  const b = new ByteStream('server reads stdin');
  const io = (startOff: number, ret: number, exitNs: number) => ({ enterNs: exitNs - 1, exitNs, ret, pid: 1, tid: 1, fd: 0, isRead: true, op: IoOp.read, startOff });
  b.add(io(0, 100, 10)); // bytes 0-99
  // bytes 100-199: a call whose event was lost (the ring was full); the kernel counted them
  b.add(io(200, 100, 30)); // bytes 200-299
  assert.equal(b.at(99)!.exitNs, 10);
  assert.equal(b.at(150), null, 'the lost call');
  assert.equal(b.at(200)!.exitNs, 30, 'after the hole: its own call, not shifted onto the lost one');
  assert.equal(b.has(250), true);
  assert.equal(b.syscallNs(50, 250), null, 'a duration over the hole is unknown');
  assert.equal(b.syscallNs(200, 299), 1);
});

test('a window edge inside a gap of lost tree records gets no snapshot, even with a neighbour within a millisecond; windows outside the gap are unaffected', () => {
  const serverPid = 2;
  const tree = new TreeAccounting(serverPid, 4, 0);
  const totals = (cpuNs: number): TreeTotals => ({
    modeNs: [cpuNs, 0, 0, 0], causeNs: IDLE_CAUSES.map(() => 0), serverCpuNs: cpuNs, serverRunqNs: 0, childCpuNs: 0, childRunqNs: 0, childDiskNs: 0,
    fileReads: 0, fileReadBytes: 0, pageCacheMisses: 0, diskIos: 0, diskIoBytes: 0, diskIoNs: 0, fdsOpened: 0, fdsClosed: 0, lastOtherNr: 0, fdsOpenDelta: 0,
  });
  const snap = (tsNs: number, write: boolean, cpuNs: number) => tree.add({ tsNs, pid: serverPid, tid: serverPid, kind: 'snapshot', fd: write ? 1 : 0, write, totals: totals(cpuNs), childCpuNs: new Map() });
  snap(1_000_000, false, 0);
  snap(2_000_000, true, 500_000);
  assert.equal(tree.window(1_000_000, 2_000_000, { method: 'a', id: 1 })!.serverCpuUs, 500);
  snap(3_000_000, false, 600_000); // the last record before the ring filled
  tree.lost(3_000_000); // read snapshots at 3.1-3.4 ms were dropped
  snap(3_500_000, true, 900_000); // the first record after
  // A request whose last byte the server read at 3.2 ms: its snapshot is lost, and the one
  // at 3.0 ms (within 1 ms) is not its own.
  assert.equal(tree.window(3_200_000, 3_500_000, { method: 'b', id: 2 }), null);
  // A window before the gap keeps its figures.
  assert.equal(tree.window(1_000_000, 2_000_000, { method: 'a', id: 1 })!.serverCpuUs, 500);
  snap(10_000_000, false, 1_000_000);
  snap(11_000_000, true, 1_200_000);
  assert.equal(tree.window(10_000_000, 11_000_000, { method: 'd', id: 4 })!.serverCpuUs, 200);
});

/** A server's tree (pid 2) and a way to add its snapshots carrying children's CPU slots (pid -> ns). */
function treeWithSlotSnapshots(): { tree: TreeAccounting; serverPid: number; snap: (tsNs: number, write: boolean, slots: Array<[number, number]>) => void } {
  const serverPid = 2;
  const tree = new TreeAccounting(serverPid, 4, 0);
  const totals = (): TreeTotals => ({
    modeNs: [0, 0, 0, 0], causeNs: IDLE_CAUSES.map(() => 0), serverCpuNs: 0, serverRunqNs: 0, childCpuNs: 0, childRunqNs: 0, childDiskNs: 0,
    fileReads: 0, fileReadBytes: 0, pageCacheMisses: 0, diskIos: 0, diskIoBytes: 0, diskIoNs: 0, fdsOpened: 0, fdsClosed: 0, lastOtherNr: 0, fdsOpenDelta: 0,
  });
  const snap = (tsNs: number, write: boolean, slots: Array<[number, number]>): void => tree.add({ tsNs, pid: serverPid, tid: serverPid, kind: 'snapshot', fd: write ? 1 : 0, write, totals: totals(), childCpuNs: new Map(slots) });
  return { tree, serverPid, snap };
}

test('a child\'s cpuUs and wallUs are its share of the window: slot differences for one alive across it, its exit total for one born in it, null for one without a slot at an edge it lived across', () => {
  const { tree, serverPid, snap } = treeWithSlotSnapshots();
  const exec = (pid: number, startNs: number, script: string) => tree.add({ tsNs: startNs + 1000, pid, tid: pid, kind: 'exec', startNs, ppid: serverPid, comm: 'node', path: '/usr/bin/node', args: ['node', script] });
  exec(10, 1_000_000, 'tsserver.js'); // alive across the window, with a slot
  exec(11, 1_500_000, 'typingsInstaller.js'); // alive across it, forked when no slot was free
  snap(10_000_000, false, [[10, 40_000_000]]);
  exec(12, 12_000_000, 'go.js'); // born in the window, ends in it
  tree.add({ tsNs: 15_000_000, pid: 12, tid: 12, kind: 'exit', startNs: 12_000_000, cpuNs: 2_000_000, diskNs: 0, status: 0, comm: 'node' });
  snap(20_000_000, true, [[10, 47_000_000]]);
  const w = tree.window(10_000_000, 20_000_000, { method: 'textDocument/hover', id: 1 })!;
  const byPid = new Map(w.children.map((c) => [c.pid, c]));
  assert.deepEqual([byPid.get(10)!.cpuUs, byPid.get(10)!.wallUs, byPid.get(10)!.exitCode], [7000, 10_000, null], 'tsserver: 7 ms of CPU in the window, alive through its 10 ms, still running');
  assert.deepEqual([byPid.get(11)!.cpuUs, byPid.get(11)!.wallUs], [null, 10_000], 'no slot: its CPU in the window is unknown');
  assert.deepEqual([byPid.get(12)!.cpuUs, byPid.get(12)!.wallUs, byPid.get(12)!.exitCode], [2000, 3000, 0], 'born and ended in the window: its whole life');
});

test('a child running before watching began (found in /proc) is listed with its name, and its CPU counts from the kernel\'s first sight of it: 0 at an edge before it took a slot', () => {
  const { tree, serverPid, snap } = treeWithSlotSnapshots();
  tree.alreadyRunning([
    { pid: 10, ppid: serverPid, comm: 'node', path: '/usr/bin/node', args: ['node', 'tsserver.js'], startNs: 500_000 },
    { pid: 11, ppid: serverPid, comm: 'node', path: '/usr/bin/node', args: ['node', 'typingsInstaller.js'], startNs: 600_000 },
  ]);
  // tsserver slept until the request woke it (it took its slot then); typingsInstaller never ran.
  snap(10_000_000, false, []);
  snap(20_000_000, true, [[10, 3_000_000]]);
  snap(30_000_000, false, [[10, 3_000_000]]);
  snap(40_000_000, true, [[10, 8_000_000]]);
  const first = new Map(tree.window(10_000_000, 20_000_000, { method: 'm', id: 1 })!.children.map((c) => [c.pid, c]));
  assert.deepEqual([first.get(10)!.args, first.get(10)!.cpuUs, first.get(10)!.wallUs], [['node', 'tsserver.js'], 3000, 10_000], 'tsserver, named from /proc: its CPU since it took its slot');
  assert.equal(first.get(11)!.cpuUs, null, 'no slot at either edge: unknown');
  const second = new Map(tree.window(30_000_000, 40_000_000, { method: 'm', id: 2 })!.children.map((c) => [c.pid, c]));
  assert.equal(second.get(10)!.cpuUs, 5000, 'the slot at both edges: their difference');
});

test('a long session leaves the kernel stage only the calls and snapshots that messages still to come can need, and a request answered thousands of messages later keeps its fields', () => {
  const tree = new TreeAccounting(2, 0, 0);
  const stage = new KernelStage({ lsptapPid: 1, serverPid: 2, editorPid: 3, lsptapIn: 0, lsptapOut: 1, lsptapToServer: 10, lsptapFromServer: 11, editorIn: 5, editorWriterPid: 3, editorOut: 6 }, 1000, { drain: () => 0 }, tree);
  const moved = new Map<string, number>();
  let ns = 1_000_000;
  /** One syscall moving `ret` bytes, 10 µs after the last; returns its exit time. */
  const io = (pid: number, fd: number, isRead: boolean, ret: number): number => {
    const k = `${pid}:${fd}:${isRead}`, startOff = moved.get(k) ?? 0;
    moved.set(k, startOff + ret);
    ns += 10_000;
    stage.onIo({ enterNs: ns - 2_000, exitNs: ns, ret, pid, tid: pid, fd, isRead, op: isRead ? IoOp.read : IoOp.write, startOff });
    return ns;
  };
  let cpuNs = 0;
  const snap = (tsNs: number, write: boolean): void => tree.add({
    tsNs, pid: 2, tid: 2, kind: 'snapshot', fd: write ? 1 : 0, write, childCpuNs: new Map(),
    totals: { modeNs: [cpuNs, 0, 0, 0], causeNs: IDLE_CAUSES.map(() => 0), serverCpuNs: cpuNs, serverRunqNs: 0, childCpuNs: 0, childRunqNs: 0, childDiskNs: 0, fileReads: 0, fileReadBytes: 0, pageCacheMisses: 0, diskIos: 0, diskIoBytes: 0, diskIoNs: 0, fdsOpened: 0, fdsClosed: 0, lastOtherNr: 0, fdsOpenDelta: 0 },
  });
  const record = (dir: 'c2s' | 's2c', kind: 'request' | 'response', id: number, offset: number, request: MessageRecord['request']): MessageRecord => ({
    dir, kind, method: 'm', id, bytes: 80, headerBytes: 20, offset, firstByteNs: 0n, lastByteNs: 0n, forwardedNs: 0n, clock: 'js',
    isError: kind === 'response' ? false : null, latencyMs: null, request, cancelled: false, cancelsId: null, invalidReason: null, unmatched: false, body: null, kernel: null,
  });
  const out: MessageRecord[] = [];
  const offsets = { c2s: 0, s2c: 0 };
  /** The editor's request through lsptap to the server, which reads it; what its response will carry. */
  const request = (id: number): NonNullable<MessageRecord['request']> => {
    const offset = offsets.c2s;
    offsets.c2s += 100;
    io(3, 6, false, 100); io(1, 0, true, 100); io(1, 10, false, 100);
    snap(io(2, 0, true, 100), false);
    stage.push(record('c2s', 'request', id, offset, null), (r) => out.push(r));
    return { offset, endOffset: offset + 99, forwardedNs: 0n };
  };
  /** The server works 50 µs of CPU, then writes the response, which reaches the editor. */
  const respond = (id: number, req: NonNullable<MessageRecord['request']>): void => {
    const offset = offsets.s2c;
    offsets.s2c += 100;
    cpuNs += 50_000;
    snap(ns + 10_000 - 2_000, true); // as the server's write begins
    io(2, 1, false, 100); io(1, 11, true, 100); io(1, 1, false, 100); io(3, 5, true, 100);
    stage.push(record('s2c', 'response', id, offset, req), (r) => out.push(r));
  };
  const first = request(0); // answered last
  for (let id = 1; id <= 3000; id++) respond(id, request(id));
  respond(0, first);
  const late = out[out.length - 1];
  assert.equal(late.id, 0);
  assert.equal(late.kernel!.serverCpuUs, 3001 * 50, 'the window from the read of request 0 to its response: every response\'s 50 µs');
  assert.ok(late.kernel!.serverUs! > 0 && late.kernel!.toServerPipeUs !== null, `request 0's calls are still known: ${JSON.stringify(late.kernel)}`);
  for (let id = 3001; id <= 4000; id++) respond(id, request(id));
  assert.equal(out.length, 2 * 4001);
  assert.ok(out.every((r) => r.kind !== 'response' || r.kernel!.serverCpuUs === 50 || r.id === 0), 'every other response has its own 50 µs');
  // 8 streams carried 4,001 calls each, the tree 8,002 snapshots; what is kept is what the
  // last few hundred records needed (the stage forgets every 256 records).
  assert.ok(stage.keptSegments <= 8 * 2 * 256, `${stage.keptSegments} syscalls kept`);
  assert.ok(tree.kept.snapshots <= 2 * 256 + 100, `${tree.kept.snapshots} snapshots kept`);
  assert.equal(tree.kept.windows, 0, 'no window opened an fd');
});
