// Every ffi-rs declaration in src/probes/native.ts, called for real: a wrong type there
// aborts the process instead of throwing, so each one is exercised here on its own.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { nativeCalls, libcCalls, allocate, addressOf, isNull, isMapFailed, bufferAt, bytesWaiting, peerCredPid, unixPeerInode, unixReceiveQueue, PROT_READ, PROT_WRITE, MAP_SHARED, SC_PAGESIZE } from '../src/probes/native';
import net from 'node:net';
import { execFileSync, spawn } from 'node:child_process';
import { fdOf, socketInodeOf, unixPeerEnd } from '../src/probes/peer-process';
import { unreadByPeer } from '../src/probes/stream-queues';
import { BPF_OUTPUT_DIR } from '../src/probes/loader';
import { bpfSkipReason } from './helpers/kernel';
import { TREE_PROGRAMS, BPF_OBJECT } from '../src/probes/kernel-timing';

const skip = bpfSkipReason();

test('libc sysconf, malloc and free work through ffi-rs', () => {
  const n = nativeCalls();
  assert.equal(n.sysconf(SC_PAGESIZE).value, 4096);
  const block = allocate(64);
  block.buf.fill(7);
  assert.equal(block.buf[63], 7);
  assert.ok(addressOf(block.ptr) > 0);
  block.free();
});

test('libc mmap maps a file that a Buffer then reads without copying, and munmap releases it', (t) => {
  const file = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'lsptap-native-')), 'page');
  t.after(() => fs.rmSync(path.dirname(file), { recursive: true, force: true }));
  fs.writeFileSync(file, Buffer.alloc(4096, 0x41));
  const fd = fs.openSync(file, 'r+');
  t.after(() => fs.closeSync(fd));
  const n = nativeCalls();
  const m = n.mmap(0, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  assert.equal(isMapFailed(m.value), false, m.errnoMessage);
  const view = bufferAt(m.value, 4096);
  assert.equal(view[100], 0x41);
  view[0] = 0x42; // shared: the file sees it
  assert.equal(n.munmap(m.value, 4096).value, 0);
  assert.equal(fs.readFileSync(file)[0], 0x42);
});

test('libc ioctl(FIONREAD) counts the bytes waiting in a socket, and a bad fd gives null', async (t) => {
  const { spawn } = await import('node:child_process');
  // Node's stdio pipes to a child are socketpairs, as lsptap's stdin is under most editors.
  const child = spawn(process.execPath, ['-e', 'const n = require(process.argv[1]).bytesWaiting(0); process.stdout.write(String(n));', path.join(__dirname, '..', 'src', 'probes', 'native.js')], { stdio: ['pipe', 'pipe', 'inherit'] });
  t.after(() => child.kill());
  child.stdin.write(Buffer.alloc(1234, 0x20));
  let out = '';
  child.stdout.on('data', (b: Buffer) => { out += b.toString(); });
  await new Promise((resolve) => child.once('exit', resolve));
  // Written before the child's Node has even started: all of it waits.
  assert.equal(out, '1234');
  assert.equal(bytesWaiting(9999), null);
});

test('mmap of a bad fd reports MAP_FAILED with EBADF', () => {
  const m = nativeCalls().mmap(0, 4096, PROT_READ, MAP_SHARED, 9999, 0);
  assert.equal(isMapFailed(m.value), true);
  assert.equal(m.errnoCode, os.constants.errno.EBADF);
});

test('libc getsockopt(SO_PEERCRED) names the process listening on a UNIX socket we connected to', async (t) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'lsptap-native-'));
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
  const sock = path.join(dir, 's');
  const child = spawn(process.execPath, ['-e', `require('net').createServer(() => {}).listen(${JSON.stringify(sock)}, () => process.stdout.write('ready'))`], { stdio: ['ignore', 'pipe', 'inherit'] });
  t.after(() => child.kill('SIGKILL'));
  await new Promise((r) => child.stdout.once('data', r));
  const s = net.connect({ path: sock });
  t.after(() => s.destroy());
  await new Promise((r) => s.once('connect', r));
  const fd = fdOf(s);
  assert.ok(fd !== null);
  assert.equal(peerCredPid(fd), child.pid);
});

test('getsockopt on a file that is not a socket fails with ENOTSOCK, and peerCredPid says null', (t) => {
  const fd = fs.openSync(process.execPath, 'r');
  t.after(() => fs.closeSync(fd));
  const buf = allocate(12), len = allocate(4);
  len.buf.writeUInt32LE(12);
  const r = libcCalls().getsockopt(fd, 1, 17, buf.ptr, len.ptr);
  assert.equal(r.value, -1);
  assert.equal(r.errnoCode, os.constants.errno.ENOTSOCK);
  buf.free(); len.free();
  assert.equal(peerCredPid(fd), null);
});

test('sock_diag names the other end of a socketpair as /proc shows it, and unixPeerEnd finds its holder without running ss', async (t) => {
  // Node's stdio pipes to a child are socketpairs: our end's peer is the child's fd 0.
  const child = spawn('sleep', ['30'], { stdio: ['pipe', 'ignore', 'ignore'] });
  t.after(() => child.kill('SIGKILL'));
  await new Promise((r) => child.once('spawn', r));
  const fd = fdOf(child.stdin);
  assert.ok(fd !== null);
  const mine = socketInodeOf('self', fd);
  assert.ok(mine !== null);
  const theirs = socketInodeOf(child.pid!, 0);
  assert.ok(theirs !== null && theirs !== mine);
  assert.equal(unixPeerInode(mine), theirs);
  const noTable = (): never => { throw new Error('ss was run'); };
  assert.deepEqual(unixPeerEnd(mine, child.pid!, noTable), { pid: child.pid, fd: 0 });
  // No socket has that inode: the kernel says nothing.
  assert.equal(unixPeerInode(0xfffffff0), null);
});

test('what a child has not read of its socketpair stdin is its receive queue, asked of the kernel by inode: FIONREAD on our end counts only ours', async (t) => {
  // A child that reads nothing: every byte written waits in its queue.
  const child = spawn('sleep', ['30'], { stdio: ['pipe', 'ignore', 'ignore'] });
  t.after(() => child.kill('SIGKILL'));
  await new Promise((r) => child.once('spawn', r));
  const fd = fdOf(child.stdin)!;
  const unread = unreadByPeer(fd);
  assert.equal(unread(), 0);
  await new Promise<void>((resolve) => child.stdin!.write(Buffer.alloc(1234, 0x61), () => resolve()));
  assert.equal(bytesWaiting(fd), 0, 'FIONREAD on our end: our own receive queue');
  assert.equal(unixReceiveQueue(socketInodeOf(child.pid!, 0)!), 1234);
  assert.equal(unread(), 1234);
  assert.equal(unixReceiveQueue(0xfffffff0), null, 'no socket has that inode');
});

test('what waits in a pipe is FIONREAD on either end', (t) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'lsptap-fifo-'));
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
  const fifo = path.join(dir, 'p');
  execFileSync('mkfifo', [fifo]);
  const r = fs.openSync(fifo, fs.constants.O_RDONLY | fs.constants.O_NONBLOCK);
  const w = fs.openSync(fifo, fs.constants.O_WRONLY);
  t.after(() => { fs.closeSync(r); fs.closeSync(w); });
  fs.writeSync(w, Buffer.alloc(77));
  assert.equal(unreadByPeer(w)(), 77);
});

test('bpf_object__open_file of a missing file returns NULL with ENOENT', () => {
  const n = nativeCalls();
  n.libbpf_set_print(0);
  const r = n.bpf_object__open_file('/nonexistent/lsptap.bpf.o', 0);
  assert.equal(isNull(r.value), true);
  assert.equal(r.errnoCode, os.constants.errno.ENOENT);
});

test('each libbpf call lsptap makes works on the real object, with only its io programs', { skip }, () => {
  const n = nativeCalls();
  n.libbpf_set_print(0);
  const opened = n.bpf_object__open_file(path.join(BPF_OUTPUT_DIR, BPF_OBJECT), 0);
  assert.equal(isNull(opened.value), false, opened.errnoMessage);
  const obj = opened.value;
  const enter = n.bpf_object__find_program_by_name(obj, 'handle_sys_enter').value;
  const exit = n.bpf_object__find_program_by_name(obj, 'handle_sys_exit').value;
  assert.equal(isNull(n.bpf_object__find_program_by_name(obj, 'no_such_program').value), true);
  assert.equal(n.bpf_program__set_autoload(enter, true).value, 0);
  for (const p of TREE_PROGRAMS) assert.equal(n.bpf_program__set_autoload(n.bpf_object__find_program_by_name(obj, p).value, false).value, 0);
  assert.equal(n.bpf_object__load(obj).value, 0);
  assert.ok(n.bpf_program__fd(enter).value > 0, 'a loaded program has an fd');
  assert.ok(n.bpf_program__fd(n.bpf_object__find_program_by_name(obj, TREE_PROGRAMS[0]).value).value < 0, 'one not loaded has none');
  const links = [n.bpf_program__attach(enter).value, n.bpf_program__attach(exit).value];
  for (const l of links) assert.equal(isNull(l), false);
  const pidsFd = n.bpf_object__find_map_fd_by_name(obj, 'watched_pids').value;
  assert.ok(pidsFd > 0);
  assert.ok(n.bpf_object__find_map_fd_by_name(obj, 'no_such_map').value < 0);
  const ring = n.bpf_object__find_map_by_name(obj, 'io_events').value;
  assert.equal(n.bpf_map__max_entries(ring).value, 1 << 20);
  const key = Buffer.alloc(4); key.writeUInt32LE(12345);
  const val = Buffer.alloc(4); val.writeUInt32LE(1);
  assert.equal(n.bpf_map_update_elem(pidsFd, key, val, 0).value, 0);
  assert.equal(n.bpf_map_delete_elem(pidsFd, key).value, 0);
  const countersFd = n.bpf_object__find_map_fd_by_name(obj, 'io_counters').value;
  const keys = allocate(12), values = allocate(24), count = allocate(4), out = allocate(4);
  count.buf.writeUInt32LE(3);
  const r = n.bpf_map_lookup_batch(countersFd, 0, out.ptr, keys.ptr, values.ptr, count.ptr, 0);
  assert.ok(r.value === 0 || r.errnoCode === os.constants.errno.ENOENT, r.errnoMessage);
  assert.equal(count.buf.readUInt32LE(0), 3);
  assert.deepEqual([0, 1, 2].map((i) => keys.buf.readUInt32LE(4 * i)), [0, 1, 2]);
  for (const b of [keys, values, count, out]) b.free();
  // lookup-and-delete: a batch of a HASH map read and emptied in one call.
  const k2 = allocate(8), v2 = allocate(8), c2 = allocate(4), o2 = allocate(4);
  assert.equal(n.bpf_map_update_elem(pidsFd, key, val, 0).value, 0);
  c2.buf.writeUInt32LE(2);
  const taken = n.bpf_map_lookup_and_delete_batch(pidsFd, 0, o2.ptr, k2.ptr, v2.ptr, c2.ptr, 0);
  assert.ok(taken.value === 0 || taken.errnoCode === os.constants.errno.ENOENT, taken.errnoMessage);
  assert.equal(c2.buf.readUInt32LE(0), 1);
  assert.equal(k2.buf.readUInt32LE(0), 12345);
  assert.notEqual(n.bpf_map_delete_elem(pidsFd, key).value, 0, 'taken out by the batch');
  for (const b of [k2, v2, c2, o2]) b.free();
  for (const l of links) assert.equal(n.bpf_link__destroy(l).value, 0);
  n.bpf_object__close(obj);
});

test('syscall(perf_event_open) opens a CPU-clock event on CPU 0, and a bad attr size is EINVAL (E2BIG)', { skip }, () => {
  const libc = libcCalls();
  const nr = process.arch === 'arm64' ? 241 : 298;
  const attr = allocate(128);
  try {
    attr.buf.fill(0);
    attr.buf.writeUInt32LE(1, 0); // PERF_TYPE_SOFTWARE
    attr.buf.writeUInt32LE(128, 4);
    attr.buf.writeBigUInt64LE(10_000_000n, 16);
    const r = libc.perfEventOpen(nr, attr.ptr, -1, 0, -1, 8);
    assert.ok(Number(r.value) > 0, r.errnoMessage);
    libc.close(Number(r.value));
    attr.buf.writeUInt32LE(4096 + 8, 4); // larger than the kernel knows, with non-zero tail: refused
    attr.buf.writeUInt8(1, 127);
    const bad = libc.perfEventOpen(nr, attr.ptr, -1, 0, -1, 8);
    assert.ok(Number(bad.value) < 0);
    assert.ok(bad.errnoCode === os.constants.errno.E2BIG || bad.errnoCode === os.constants.errno.EINVAL || bad.errnoCode === os.constants.errno.EFAULT, String(bad.errnoCode));
  } finally {
    attr.free();
  }
});

// native.ts answers ffi-rs's glibc-or-musl question (process.report.getReport(), ~7 ms) from
// /proc/self/maps for its one require. Both halves are checked in fresh processes, so an
// upgrade of ffi-rs that stops asking (the swap is then dead code) or asks another way (the
// swap then no longer saves anything) fails here instead of quietly.
const countReports = (body: string): { reports: number; loaded: boolean } => {
  const script = `
    let reports = 0;
    const real = process.report.getReport.bind(process.report);
    process.report.getReport = (...a) => { reports++; return real(...a); };
    ${body}
    process.stdout.write(JSON.stringify({ reports, loaded: typeof ffi.load === 'function' }));`;
  const out = execFileSync(process.execPath, ['-e', script], { cwd: path.join(__dirname, '..', '..'), encoding: 'utf8' });
  return JSON.parse(out) as { reports: number; loaded: boolean };
};

test("ffi-rs's own loader still asks process.report.getReport() which C library runs (the question native.ts answers for it)", () => {
  const r = countReports("const ffi = require('ffi-rs');");
  assert.ok(r.loaded, 'ffi-rs loads');
  assert.ok(r.reports >= 1, 'ffi-rs no longer calls getReport: drop the swap in native.ts (requireFfiRs)');
});

test('native.ts loads ffi-rs without a diagnostic report, and ffi-rs works afterwards', () => {
  const r = countReports("require('./dist/src/probes/native').loadFfiRs(); const ffi = require('ffi-rs');");
  assert.ok(r.loaded, 'ffi-rs loads through native.ts');
  assert.equal(r.reports, 0, 'native.ts let ffi-rs build a whole diagnostic report');
});
