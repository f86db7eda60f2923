// TypeScript mirror of bpf/io.h, bpf/tree.h and bpf/common.bpf.h's roles: byte offsets of each field and a decoder
// per event. test/event-layout.test.ts checks these against the BTF of the built objects,
// so a change on one side fails the tests instead of decoding garbage. Times stay in ns
// (as Numbers: CLOCK_MONOTONIC ns fit 2^53 for 104 days of uptime); the correlator
// converts to µs once.

export interface StructLayout { name: string; size: number; fields: Record<string, number> }

/** struct io_syscall_event (bpf/io.h). */
export const IO_EVENT: StructLayout = {
  name: 'io_syscall_event', size: 48,
  fields: { enter_ns: 0, exit_ns: 8, ret: 16, pid: 24, tid: 28, fd: 32, op: 36, __pad: 38, start_off: 40 },
};

/** struct io_fd_bytes (bpf/io.h): a watched_fds value, the bytes each direction moved. */
/** The watched maps' sizes (bpf/common.bpf.h WATCHED_PIDS_MAX, WATCHED_FDS_MAX): what `--listen` can kernel-time at once. */
export const WATCHED_PIDS_MAX = 16384;
export const WATCHED_FDS_MAX = 4096;
export const IO_FD_BYTES: StructLayout = { name: 'io_fd_bytes', size: 16, fields: { read_bytes: 0, written_bytes: 8 } };

/** struct tree_totals (bpf/tree.h): u64 running totals of the server's process tree. */
export const TREE_TOTALS: StructLayout = {
  name: 'tree_totals', size: 224,
  fields: {
    mode_ns: 0, cause_ns: 32, server_cpu_ns: 104, server_runq_ns: 112, child_cpu_ns: 120, child_runq_ns: 128,
    child_disk_ns: 136, file_reads: 144, file_read_bytes: 152, page_cache_misses: 160, disk_ios: 168,
    disk_io_bytes: 176, disk_io_ns: 184, fds_opened: 192, fds_closed: 200, last_other_nr: 208, fds_open_delta: 216,
  },
};
export const TREE_EVENT_HEAD: StructLayout = { name: 'tree_event_head', size: 24, fields: { ts_ns: 0, pid: 8, tid: 12, kind: 16, __pad: 18 } };
export const TREE_SNAPSHOT_EVENT: StructLayout = { name: 'tree_snapshot_event', size: 384, fields: { head: 0, fd: 24, write: 28, totals: 32, children: 256 } };
/** struct tree_child_cpu (bpf/tree.h): a descendant's CPU so far, one of TREE_CHILD_SLOTS in a snapshot. */
export const TREE_CHILD_CPU: StructLayout = { name: 'tree_child_cpu', size: 16, fields: { pid: 0, __pad: 4, cpu_ns: 8 } };
/** bpf/tree.h TREE_CHILD_SLOTS */
export const TREE_CHILD_SLOTS = 8;
export const TREE_EXEC_EVENT: StructLayout = {
  name: 'tree_exec_event', size: 440,
  fields: { head: 0, start_ns: 24, ppid: 32, args_len: 36, comm: 40, path: 56, args: 184 },
};
export const TREE_EXIT_EVENT: StructLayout = {
  name: 'tree_exit_event', size: 72,
  fields: { head: 0, start_ns: 24, cpu_ns: 32, disk_ns: 40, status: 48, __pad2: 52, comm: 56 },
};
/** struct server_fd (bpf/tree.h): a value of the map server_fds, keyed by struct io_fd_key. */
export const SERVER_FD: StructLayout = { name: 'server_fd', size: 144, fields: { opened_ns: 0, nr: 8, __pad: 12, path: 16 } };
export const IO_FD_KEY: StructLayout = { name: 'io_fd_key', size: 8, fields: { pid: 0, fd: 4 } };
const PATH_LEN = 128;
const COMM_LEN = 16;

/** enum io_op */
export const IoOp = { read: 0, write: 1, readv: 2, writev: 3, recvmsg: 4, sendmsg: 5 } as const;
export const IO_OP_NAMES = ['read', 'write', 'readv', 'writev', 'recvmsg', 'sendmsg'] as const;
/** enum watched_role (bpf/common.bpf.h): what a process in watched_pids is to the session. */
export const WatchedRole = { lsptap: 1, server: 2, editor: 3, child: 4 } as const;
/** A watched_pids value. */
export type WatchedRoleValue = (typeof WatchedRole)[keyof typeof WatchedRole];
/** enum tree_mode: the tree's wall time is split among these (bpf/tree.h). */
export const TreeMode = { busy: 0, idleChild: 1, idleDisk: 2, idleOther: 3 } as const;
/** enum idle_cause, by slot: the names `blockedOtherOn` reports (null: unknown). */
export const IDLE_CAUSES = [null, 'timer', 'lock', 'poll', 'stdin', 'read', 'network', 'child', 'syscall'] as const;
export const CAUSE_SYSCALL = 8;
/** enum tree_event_kind */
export const TreeEventKind = { snapshot: 0, exec: 1, exit: 2 } as const;
/** enum io_counter / tree_counter slots. */
export const IO_COUNTERS = ['events', 'drops', 'inflightFull'] as const;
export const TREE_COUNTERS = ['events', 'drops', 'fdPeak', 'fdTableFull'] as const;
export const TreeCounter = { events: 0, drops: 1, fdPeak: 2, fdTableFull: 3 } as const;

export interface IoEvent {
  enterNs: number;
  exitNs: number;
  /** Bytes moved, or -errno. */
  ret: number;
  pid: number;
  tid: number;
  fd: number;
  /** 'read' family (read, readv, recvmsg) moves bytes in. */
  isRead: boolean;
  op: number;
  /** Bytes this direction of the stream had moved before this call, counted by the kernel. */
  startOff: number;
}

/** struct tree_totals, ns and counts as Numbers. */
export interface TreeTotals {
  modeNs: [number, number, number, number];
  causeNs: number[];
  serverCpuNs: number;
  serverRunqNs: number;
  childCpuNs: number;
  childRunqNs: number;
  childDiskNs: number;
  fileReads: number;
  fileReadBytes: number;
  pageCacheMisses: number;
  diskIos: number;
  diskIoBytes: number;
  diskIoNs: number;
  fdsOpened: number;
  fdsClosed: number;
  lastOtherNr: number;
  /** The server's open fds now less those put in server_fds when watching began (signed). */
  fdsOpenDelta: number;
}

interface TreeHead { tsNs: number; pid: number; tid: number }
/**
 * A snapshot: the totals, and the CPU so far (ns) of each descendant that holds a child slot,
 * by pid (empty slots left out).
 */
export interface TreeSnapshot extends TreeHead { kind: 'snapshot'; fd: number; write: boolean; totals: TreeTotals; childCpuNs: Map<number, number> }
export interface TreeExec extends TreeHead { kind: 'exec'; startNs: number; ppid: number; comm: string; path: string; args: string[] }
export interface TreeExit extends TreeHead { kind: 'exit'; startNs: number; cpuNs: number; diskNs: number; status: number; comm: string }
export type TreeEvent = TreeSnapshot | TreeExec | TreeExit;

/** One entry of the server's fd table (map server_fds), read at the end of a session. */
export interface ServerFd { pid: number; fd: number; openedNs: number; nr: number; path: string }

const F = IO_EVENT.fields;

/**
 * A ring's records as bytes and as u32 words over the same memory (ring-reader.ts). Records
 * and every u64 field in them are 8-byte aligned, so the decoders read words, indexed from
 * the byte offset: an element load each, where Buffer.readUInt32LE was a call with bounds
 * checks (decoding was most of a drain's CPU).
 */
export interface RecordBytes { bytes: Buffer; words: Uint32Array }

/** A Buffer's bytes as RecordBytes; its byteOffset must be a multiple of 4 (a ring's mapping, a test's own buffer). */
export function recordBytesOf(bytes: Buffer): RecordBytes {
  return { bytes, words: new Uint32Array(bytes.buffer, bytes.byteOffset, bytes.length >> 2) };
}

// u64 as two u32 words: a BigInt per field made decoding a snapshot (25 fields) 30x an io
// event. Exact below 2^53 (ns: 104 days of uptime; counts and bytes far below).
const u64 = (w: Uint32Array, at: number): number => w[at >> 2] + w[(at >> 2) + 1] * 4294967296;
const s64 = (w: Uint32Array, at: number): number => w[at >> 2] + (w[(at >> 2) + 1] | 0) * 4294967296;
const u32 = (w: Uint32Array, at: number): number => w[at >> 2];
const s32 = (w: Uint32Array, at: number): number => w[at >> 2] | 0;
/** A u16 at a 4-byte-aligned offset (io_syscall_event.op, tree_event_head.kind): the low half of its word. */
const u16 = (w: Uint32Array, at: number): number => w[at >> 2] & 0xffff;

/**
 * The io event at byte offset `at`. into: an event to fill instead of making one (the feed
 * reuses one for every event of a drain, so a sink must copy what it keeps).
 */
export function decodeIoEvent(r: RecordBytes, at: number, into?: IoEvent): IoEvent {
  const w = r.words;
  const op = u16(w, at + F.op);
  const enterNs = u64(w, at + F.enter_ns), exitNs = u64(w, at + F.exit_ns), ret = s64(w, at + F.ret);
  const pid = u32(w, at + F.pid), tid = u32(w, at + F.tid), fd = s32(w, at + F.fd), startOff = u64(w, at + F.start_off);
  const isRead = op === IoOp.read || op === IoOp.readv || op === IoOp.recvmsg;
  if (into === undefined) return { enterNs, exitNs, ret, pid, tid, fd, isRead, op, startOff };
  into.enterNs = enterNs; into.exitNs = exitNs; into.ret = ret; into.pid = pid; into.tid = tid;
  into.fd = fd; into.isRead = isRead; into.op = op; into.startOff = startOff;
  return into;
}

const H = TREE_EVENT_HEAD.fields;
const T = TREE_TOTALS.fields;

/** A NUL-terminated C string in a fixed-size field. */
function cString(b: Buffer, at: number, max: number): string {
  const end = b.indexOf(0, at);
  return b.toString('utf8', at, end < 0 || end > at + max ? at + max : end);
}

function decodeTotals(b: Uint32Array, at: number): TreeTotals {
  const c = at + T.cause_ns; // IDLE_CAUSES.length (9) slots, as one literal: no array growth
  const causeNs = [u64(b, c), u64(b, c + 8), u64(b, c + 16), u64(b, c + 24), u64(b, c + 32), u64(b, c + 40), u64(b, c + 48), u64(b, c + 56), u64(b, c + 64)];
  return {
    modeNs: [u64(b, at), u64(b, at + 8), u64(b, at + 16), u64(b, at + 24)],
    causeNs,
    serverCpuNs: u64(b, at + T.server_cpu_ns), serverRunqNs: u64(b, at + T.server_runq_ns),
    childCpuNs: u64(b, at + T.child_cpu_ns), childRunqNs: u64(b, at + T.child_runq_ns), childDiskNs: u64(b, at + T.child_disk_ns),
    fileReads: u64(b, at + T.file_reads), fileReadBytes: u64(b, at + T.file_read_bytes),
    pageCacheMisses: u64(b, at + T.page_cache_misses), diskIos: u64(b, at + T.disk_ios),
    diskIoBytes: u64(b, at + T.disk_io_bytes), diskIoNs: u64(b, at + T.disk_io_ns),
    fdsOpened: u64(b, at + T.fds_opened), fdsClosed: u64(b, at + T.fds_closed), lastOtherNr: u64(b, at + T.last_other_nr),
    fdsOpenDelta: s64(b, at + T.fds_open_delta),
  };
}

const C = TREE_CHILD_CPU.fields;
const NO_CHILDREN: Map<number, number> = new Map();

/** The occupied child slots of a snapshot; one shared empty map when none is (no allocation). */
function decodeChildSlots(b: Uint32Array, at: number): Map<number, number> {
  let out = NO_CHILDREN;
  for (let i = 0; i < TREE_CHILD_SLOTS; i++) {
    const slot = at + i * TREE_CHILD_CPU.size;
    const pid = u32(b, slot + C.pid);
    if (pid === 0) continue;
    if (out === NO_CHILDREN) out = new Map();
    out.set(pid, u64(b, slot + C.cpu_ns));
  }
  return out;
}

/** One record of the tree ring; null for a kind this build does not know. */
export function decodeTreeEvent(r: RecordBytes, at: number): TreeEvent | null {
  // Every record is built as one literal with its fields in a fixed order: one object shape
  // per kind, no spread of a head object (V8 made a map transition per spread).
  const w = r.words, b = r.bytes;
  const tsNs = u64(w, at + H.ts_ns), pid = u32(w, at + H.pid), tid = u32(w, at + H.tid);
  const kind = u16(w, at + H.kind);
  if (kind === TreeEventKind.snapshot) {
    const f = TREE_SNAPSHOT_EVENT.fields;
    return { tsNs, pid, tid, kind: 'snapshot', fd: s32(w, at + f.fd), write: u32(w, at + f.write) !== 0, totals: decodeTotals(w, at + f.totals), childCpuNs: decodeChildSlots(w, at + f.children) };
  }
  if (kind === TreeEventKind.exec) {
    const f = TREE_EXEC_EVENT.fields;
    const argsLen = Math.min(u32(w, at + f.args_len), 256);
    const args = b.toString('utf8', at + f.args, at + f.args + argsLen).split('\0');
    if (args.length > 0 && args[args.length - 1] === '') args.pop();
    return {
      tsNs, pid, tid, kind: 'exec', startNs: u64(w, at + f.start_ns), ppid: u32(w, at + f.ppid),
      comm: cString(b, at + f.comm, COMM_LEN), path: cString(b, at + f.path, PATH_LEN), args,
    };
  }
  if (kind === TreeEventKind.exit) {
    const f = TREE_EXIT_EVENT.fields;
    return {
      tsNs, pid, tid, kind: 'exit', startNs: u64(w, at + f.start_ns), cpuNs: u64(w, at + f.cpu_ns), diskNs: u64(w, at + f.disk_ns),
      status: s32(w, at + f.status), comm: cString(b, at + f.comm, COMM_LEN),
    };
  }
  return null;
}

/** An entry of server_fds: its key and value, as bpf_map_lookup_batch hands them back. */
export function decodeServerFd(key: Buffer, keyAt: number, value: Buffer, valueAt: number): ServerFd {
  const f = SERVER_FD.fields;
  return {
    pid: key.readUInt32LE(keyAt + IO_FD_KEY.fields.pid), fd: key.readInt32LE(keyAt + IO_FD_KEY.fields.fd),
    openedNs: value.readUInt32LE(valueAt + f.opened_ns) + value.readUInt32LE(valueAt + f.opened_ns + 4) * 4294967296, nr: value.readUInt32LE(valueAt + f.nr), path: cString(value, valueAt + f.path, PATH_LEN),
  };
}
