// Every native call lsptap makes: libbpf (Debian's libbpf1) and a few libc functions, through
// ffi-rs. A wrong type in an ffi-rs declaration aborts the whole process instead of throwing,
// so all declarations live here, each exercised by test/native.test.ts.
//
// Cost rule (docs/kernel-timing.md "How it is built"): each function's parameter object is built once and
// its paramsValue array refilled per call; ffi-rs's define() builds one per call and
// doubles the cost. Nothing here is called per message or per event.

import fs from 'node:fs';
import type { JsExternal, FieldType } from 'ffi-rs';

export type Pointer = JsExternal;

type Ffi = typeof import('ffi-rs');
let ffiModule: Ffi | null = null;
/**
 * ffi-rs, loaded on first use: the relay thread imports this file for socket peers, and
 * loading the native module (with its libc probe) cost every session's start ~10 ms.
 */
function ffi(): Ffi {
  ffiModule ??= requireFfiRs();
  return ffiModule;
}

/**
 * Load ffi-rs now, without its musl probe (below). The relay thread calls this before the
 * analysis thread loads it (analysis-thread.ts): a plain require there paid the probe's 7 ms.
 */
export function loadFfiRs(): void { ffi(); }

/**
 * ffi-rs's loader (napi-rs's) picks its glibc or musl binary by calling
 * process.report.getReport() and reading header.glibcVersionRuntime: a whole diagnostic
 * report for one field, 7 ms of CPU that every kernel-timed session paid. For that one
 * require, the question is answered from this process's own mappings instead.
 */
function requireFfiRs(): Ffi {
  const report = process.report as { getReport: () => object } | undefined;
  const full = report?.getReport;
  if (report === undefined || full === undefined) return require('ffi-rs') as Ffi;
  let musl = false;
  try { musl = fs.readFileSync('/proc/self/maps', 'latin1').includes('musl'); } catch { return require('ffi-rs') as Ffi; }
  report.getReport = () => ({ header: { glibcVersionRuntime: musl ? undefined : 'glibc' } });
  try {
    return require('ffi-rs') as Ffi;
  } finally {
    report.getReport = full;
  }
}

const LIBBPF = 'lsptap_libbpf';
const LIBC = 'lsptap_libc';
export const LIBBPF_SONAME = 'libbpf.so.1';
const LIBC_SONAME = 'libc.so.6';

let libcOpened = false;
let libbpfOpened = false;

function openLibc(): void {
  if (libcOpened) return;
  ffi().open({ library: LIBC, path: LIBC_SONAME });
  libcOpened = true;
}

/** Open libbpf and libc once; throws when libbpf.so.1 is not installed. */
export function openNativeLibraries(): void {
  openLibc();
  if (libbpfOpened) return;
  ffi().open({ library: LIBBPF, path: LIBBPF_SONAME });
  libbpfOpened = true;
}

interface CallSpec {
  library: string;
  funcName: string;
  retType: FieldType;
  paramsType: FieldType[];
  paramsValue: unknown[];
  errno: boolean;
}

interface ErrnoResult<T> { value: T; errnoCode: number; errnoMessage: string }

/** One native function with its parameter object built once. */
function bind<T>(library: string, funcName: string, retType: FieldType, paramsType: FieldType[]): (...args: unknown[]) => ErrnoResult<T> {
  const spec: CallSpec = { library, funcName, retType, paramsType, paramsValue: new Array<unknown>(paramsType.length), errno: true };
  const values = spec.paramsValue;
  const n = paramsType.length;
  const { load } = ffi();
  return (...args: unknown[]): ErrnoResult<T> => {
    for (let i = 0; i < n; i++) values[i] = args[i];
    return load(spec as Parameters<typeof load>[0]) as unknown as ErrnoResult<T>;
  };
}

// Pointer-typed arguments that may be NULL are declared U64 and passed 0: same register,
// and ffi-rs has no way to make a NULL External.
function types() {
  const { DataType } = ffi();
  return { DataType, P: DataType.External, U64: DataType.U64, I32: DataType.I32 };
}

/** libc alone: what the relay thread needs (socket peers), with or without libbpf installed. */
function bindLibc() {
  const { DataType, P, U64, I32 } = types();
  return {
    mmap: bind<Pointer>(LIBC, 'mmap', P, [U64, U64, I32, I32, I32, DataType.I64]),
    munmap: bind<number>(LIBC, 'munmap', I32, [P, U64]),
    malloc: bind<Pointer>(LIBC, 'malloc', P, [U64]),
    free: bind<undefined>(LIBC, 'free', DataType.Void, [P]),
    sysconf: bind<number>(LIBC, 'sysconf', DataType.I64, [I32]),
    getsockopt: bind<number>(LIBC, 'getsockopt', I32, [I32, I32, I32, P, P]),
    // ioctl(fd, FIONREAD, int *): bytes waiting to be read in a pipe or socket.
    ioctl: bind<number>(LIBC, 'ioctl', I32, [I32, U64, P]),
    // syscall(__NR_bpf, cmd, union bpf_attr *, size), for the light-skeleton loader. glibc's
    // syscall() is variadic but moves its arguments straight to registers: a fixed prototype
    // passes them the same way on x86-64 and arm64.
    syscall: bind<number>(LIBC, 'syscall', DataType.I64, [DataType.I64, DataType.I64, P, DataType.I64]),
    // syscall(__NR_perf_event_open, struct perf_event_attr *, pid, cpu, group_fd, flags), for
    // the profiler's clock events (profile-sampler.ts): the same function, other arguments.
    perfEventOpen: bind<number>(LIBC, 'syscall', DataType.I64, [DataType.I64, P, I32, I32, I32, U64]),
    close: bind<number>(LIBC, 'close', I32, [I32]),
    socket: bind<number>(LIBC, 'socket', I32, [I32, I32, I32]),
    write: bind<number>(LIBC, 'write', DataType.I64, [I32, P, U64]),
    read: bind<number>(LIBC, 'read', DataType.I64, [I32, P, U64]),
    strlen: bind<number>(LIBC, 'strlen', U64, [P]),
  };
}

function bindAll() {
  const { DataType, P, U64, I32 } = types();
  return {
    ...libcCalls(),
    // libbpf
    libbpf_set_print: bind<number>(LIBBPF, 'libbpf_set_print', U64, [U64]),
    bpf_object__open_file: bind<Pointer>(LIBBPF, 'bpf_object__open_file', P, [DataType.String, U64]),
    bpf_object__find_program_by_name: bind<Pointer>(LIBBPF, 'bpf_object__find_program_by_name', P, [P, DataType.String]),
    bpf_program__set_autoload: bind<number>(LIBBPF, 'bpf_program__set_autoload', I32, [P, DataType.Boolean]),
    bpf_object__load: bind<number>(LIBBPF, 'bpf_object__load', I32, [P]),
    bpf_program__attach: bind<Pointer>(LIBBPF, 'bpf_program__attach', P, [P]),
    bpf_program__fd: bind<number>(LIBBPF, 'bpf_program__fd', I32, [P]),
    bpf_link__destroy: bind<number>(LIBBPF, 'bpf_link__destroy', I32, [P]),
    bpf_object__close: bind<undefined>(LIBBPF, 'bpf_object__close', DataType.Void, [P]),
    bpf_object__find_map_by_name: bind<Pointer>(LIBBPF, 'bpf_object__find_map_by_name', P, [P, DataType.String]),
    bpf_map__max_entries: bind<number>(LIBBPF, 'bpf_map__max_entries', DataType.U32, [P]),
    bpf_object__find_map_fd_by_name: bind<number>(LIBBPF, 'bpf_object__find_map_fd_by_name', I32, [P, DataType.String]),
    bpf_map_update_elem: bind<number>(LIBBPF, 'bpf_map_update_elem', I32, [I32, DataType.U8Array, DataType.U8Array, U64]),
    bpf_map_delete_elem: bind<number>(LIBBPF, 'bpf_map_delete_elem', I32, [I32, DataType.U8Array]),
    bpf_map_lookup_batch: bind<number>(LIBBPF, 'bpf_map_lookup_batch', I32, [I32, U64, P, P, P, P, U64]),
    bpf_map_lookup_and_delete_batch: bind<number>(LIBBPF, 'bpf_map_lookup_and_delete_batch', I32, [I32, U64, P, P, P, P, U64]),
  };
}

export type Native = ReturnType<typeof bindAll>;
export type Libc = ReturnType<typeof bindLibc>;

let native: Native | null = null;
let libc: Libc | null = null;

/** The bound libc functions; opens libc only (no libbpf needed). */
export function libcCalls(): Libc {
  if (libc === null) { openLibc(); libc = bindLibc(); }
  return libc;
}

/** The bound functions; opens the libraries on first use. */
export function nativeCalls(): Native {
  if (native === null) { openNativeLibraries(); native = bindAll(); }
  return native;
}

const LIBSTDCXX = 'lsptap_libstdcxx';
let demangler: ((...args: unknown[]) => ErrnoResult<Pointer>) | null | undefined;

/**
 * A C++ symbol's name as its source spells it, from the C++ runtime's own demangler
 * (libstdc++'s __cxa_demangle: node links libstdc++, so it is always there); null when
 * `mangled` is not a mangled name or the runtime cannot be opened. Called once per name a
 * profile shows, on the analysis thread.
 */
export function cxxDemangle(mangled: string): string | null {
  if (demangler === undefined) {
    try {
      ffi().open({ library: LIBSTDCXX, path: 'libstdc++.so.6' });
      const { P, U64 } = types();
      // char *__cxa_demangle(const char *mangled, char *buf, size_t *len, int *status): buf,
      // len and status NULL (the result is malloc'd; NULL when the name is not valid).
      demangler = bind<Pointer>(LIBSTDCXX, '__cxa_demangle', P, [ffi().DataType.String, U64, U64, U64]);
    } catch {
      demangler = null;
    }
  }
  if (demangler === null) return null;
  const out = demangler(mangled, 0, 0, 0).value;
  if (isNull(out)) return null;
  const c = libcCalls();
  try {
    return bufferAt(out, Number(c.strlen(out).value)).toString('utf8');
  } finally {
    c.free(out);
  }
}

export const PROT_READ = 1;
export const PROT_WRITE = 2;
export const MAP_SHARED = 1;
export const SC_PAGESIZE = 30;
/** FIONREAD (asm-generic/ioctls.h; the same on x86-64 and arm64). */
/** bpf(2)'s syscall number, for the calls libbpf has no wrapper for that lsptap makes through libc's syscall(). */
export const NR_BPF = process.arch === 'arm64' ? 280 : 321;
export const FIONREAD = 0x541b;
/** SIOCOUTQ (TIOCOUTQ): on a UNIX socket, the memory of what we sent that the peer has not read yet (0: it read all). */
export const SIOCOUTQ = 0x5411;
/** mmap's MAP_FAILED, (void *)-1: ffi-rs reads the address back as -1. */
export function isMapFailed(p: Pointer): boolean {
  const a = addressOf(p);
  return a === -1 || a >= 2 ** 64 - 4096;
}

/** The numeric address a pointer holds (for NULL and MAP_FAILED checks, and arithmetic). */
export function addressOf(p: Pointer): number {
  const { restorePointer, wrapPointer, DataType } = ffi();
  return restorePointer({ retType: [DataType.U64], paramsValue: wrapPointer([p]) })[0];
}

export function isNull(p: Pointer): boolean { return ffi().isNullPointer(p); }

/** A Buffer over native memory, no copy; the caller keeps the memory alive. */
export function bufferAt(p: Pointer, bytes: number): Buffer { return ffi().createExternalBuffer(p, bytes); }

/** Native memory from malloc with a Buffer view, for out-parameters. free() when done. */
export interface NativeBlock { ptr: Pointer; buf: Buffer; free(): void }

export function allocate(bytes: number): NativeBlock {
  const n = libcCalls();
  const ptr = n.malloc(bytes).value;
  if (isNull(ptr)) throw new Error(`malloc(${bytes}) failed`);
  let freed = false;
  return {
    ptr, buf: bufferAt(ptr, bytes),
    free: () => { if (!freed) { freed = true; n.free(ptr); } },
  };
}

const SOL_SOCKET = 1;
const SO_PEERCRED = 17; // Linux, on every architecture lsptap runs on (x86-64, arm64)
let peerCred: { cred: NativeBlock; len: NativeBlock } | null = null;

/**
 * The pid at the other end of a UNIX socket, from the kernel (SO_PEERCRED): the process that
 * called connect() (for a socket we accepted) or listen() (for one we connected). null when
 * the fd is not a connected UNIX socket or libc cannot be reached.
 */
export function peerCredPid(fd: number): number | null {
  try {
    // struct ucred { pid_t pid; uid_t uid; gid_t gid; }: 12 bytes, kept for every call.
    peerCred ??= { cred: allocate(12), len: allocate(4) };
    const { cred, len } = peerCred;
    len.buf.writeUInt32LE(12, 0);
    cred.buf.writeInt32LE(0, 0);
    if (libcCalls().getsockopt(fd, SOL_SOCKET, SO_PEERCRED, cred.ptr, len.ptr).value !== 0) return null;
    const pid = cred.buf.readInt32LE(0);
    return pid > 0 ? pid : null;
  } catch {
    return null;
  }
}

/** Bytes written into fd (a pipe or a socket) and not read yet; null when ioctl fails. */
export function bytesWaiting(fd: number, request: number = FIONREAD): number | null {
  const block = allocate(4);
  try {
    block.buf.writeInt32LE(0, 0);
    const r = libcCalls().ioctl(fd, request, block.ptr);
    return r.value === 0 ? block.buf.readInt32LE(0) : null;
  } finally {
    block.free();
  }
}

// sock_diag (linux/sock_diag.h, linux/unix_diag.h, linux/netlink.h): the same numbers on
// x86-64 and arm64.
const AF_NETLINK = 16;
const AF_UNIX = 1;
const SOCK_DGRAM = 2;
const SOCK_CLOEXEC = 0o2000000;
const NETLINK_SOCK_DIAG = 4;
const SOCK_DIAG_BY_FAMILY = 20;
const NLM_F_REQUEST = 1;
const NLMSG_ERROR = 2;
const UDIAG_SHOW_PEER = 4;
const UDIAG_SHOW_RQLEN = 0x10;
const UNIX_DIAG_PEER = 2;
const UNIX_DIAG_RQLEN = 4;
const NLMSG_HEADER = 16;
const UNIX_DIAG_REQ = 24;
const UNIX_DIAG_MSG = 16;
const DIAG_REPLY_BYTES = 1024;

/** What sock_diag says of one UNIX socket: its peer's inode and the bytes in its receive queue, null where it did not say. */
export interface UnixSocketFacts { peer: number | null; receiveQueue: number | null }

/**
 * The inode of the socket at the other end of the UNIX socket `inode`, asked of the kernel
 * the way `ss -x` does (sock_diag over netlink: one exact request, UDIAG_SHOW_PEER), without
 * running ss. null when the kernel does not say (no such socket, not connected).
 */
export function unixPeerInode(inode: number): number | null {
  return unixSocketFacts(inode)?.peer ?? null;
}

/**
 * The bytes waiting in the receive queue of the UNIX stream socket `inode` (ss's Recv-Q: what
 * its peer wrote and its owner has not read yet), whoever holds it; null when unknown. For
 * the far end of a socketpair, where FIONREAD on our end counts our own queue instead.
 */
export function unixReceiveQueue(inode: number): number | null {
  return unixSocketFacts(inode)?.receiveQueue ?? null;
}

/** One sock_diag request for one socket (UDIAG_SHOW_PEER and UDIAG_SHOW_RQLEN); null when the kernel does not answer. */
function unixSocketFacts(inode: number): UnixSocketFacts | null {
  let n: Libc;
  try { n = libcCalls(); } catch { return null; }
  const fd = n.socket(AF_NETLINK, SOCK_DGRAM | SOCK_CLOEXEC, NETLINK_SOCK_DIAG).value;
  if (fd < 0) return null;
  const block = allocate(Math.max(NLMSG_HEADER + UNIX_DIAG_REQ, DIAG_REPLY_BYTES));
  try {
    const b = block.buf;
    b.fill(0, 0, NLMSG_HEADER + UNIX_DIAG_REQ);
    // struct nlmsghdr { u32 len; u16 type; u16 flags; u32 seq; u32 pid; }
    b.writeUInt32LE(NLMSG_HEADER + UNIX_DIAG_REQ, 0);
    b.writeUInt16LE(SOCK_DIAG_BY_FAMILY, 4);
    b.writeUInt16LE(NLM_F_REQUEST, 6);
    b.writeUInt32LE(1, 8);
    // struct unix_diag_req { u8 family, protocol; u16 pad; u32 states, ino, show; u32 cookie[2]; }
    b.writeUInt8(AF_UNIX, 16);
    b.writeUInt32LE(0xffffffff, 20); // every state
    b.writeUInt32LE(inode >>> 0, 24);
    b.writeUInt32LE(UDIAG_SHOW_PEER | UDIAG_SHOW_RQLEN, 28);
    b.writeUInt32LE(0xffffffff, 32); // no cookie: look the socket up by inode alone
    b.writeUInt32LE(0xffffffff, 36);
    if (n.write(fd, block.ptr, NLMSG_HEADER + UNIX_DIAG_REQ).value !== NLMSG_HEADER + UNIX_DIAG_REQ) return null;
    const got = Number(n.read(fd, block.ptr, DIAG_REPLY_BYTES).value);
    if (got < NLMSG_HEADER + UNIX_DIAG_MSG || b.readUInt16LE(4) === NLMSG_ERROR || b.readUInt16LE(4) !== SOCK_DIAG_BY_FAMILY) return null;
    const end = Math.min(got, b.readUInt32LE(0));
    if (b.readUInt32LE(NLMSG_HEADER + 4) !== inode >>> 0) return null;
    const facts: UnixSocketFacts = { peer: null, receiveQueue: null };
    // struct rtattr { u16 len; u16 type; } then the value, each padded to 4 bytes.
    for (let at = NLMSG_HEADER + UNIX_DIAG_MSG; at + 4 <= end;) {
      const len = b.readUInt16LE(at);
      if (len < 4) break;
      const type = b.readUInt16LE(at + 2);
      if (type === UNIX_DIAG_PEER && len >= 8) {
        const peer = b.readUInt32LE(at + 4);
        facts.peer = peer > 0 ? peer : null;
      } else if (type === UNIX_DIAG_RQLEN && len >= 12) {
        // struct unix_diag_rqlen { u32 udiag_rqueue; u32 udiag_wqueue; }: for a connected
        // stream socket, the bytes in its receive queue (the kernel's unix_inq_len).
        facts.receiveQueue = b.readUInt32LE(at + 4);
      }
      at += (len + 3) & ~3;
    }
    return facts;
  } finally {
    block.free();
    n.close(fd);
  }
}
