// TypeScript mirror of bpf/io.h and bpf/sched.h: byte offsets of each field and a decoder
// per event. test/event-layout.test.ts checks these against the BTF of the built objects,
// so a change on one side fails the tests instead of decoding garbage. Times stay in ns
// (as Numbers: CLOCK_MONOTONIC ns fit 2^53 for 104 days of uptime); the correlator
// converts to µs once.

export interface StructLayout { name: string; size: number; fields: Record<string, number> }

/** struct io_syscall_event (bpf/io.h). */
export const IO_EVENT: StructLayout = {
  name: 'io_syscall_event', size: 40,
  fields: { enter_ns: 0, exit_ns: 8, ret: 16, pid: 24, tid: 28, fd: 32, op: 36, __pad: 38 },
};

/** struct sched_event (bpf/sched.h). */
export const SCHED_EVENT: StructLayout = {
  name: 'sched_event', size: 24,
  fields: { ts_ns: 0, pid: 8, tid: 12, cpu: 16, kind: 20, runnable: 22, __pad: 23 },
};

/** enum io_op */
export const IoOp = { read: 0, write: 1, readv: 2, writev: 3, recvmsg: 4, sendmsg: 5 } as const;
export const IO_OP_NAMES = ['read', 'write', 'readv', 'writev', 'recvmsg', 'sendmsg'] as const;
/** enum sched_kind */
export const SchedKind = { switchIn: 0, switchOut: 1, wakeup: 2 } as const;
/** enum io_counter / sched_counter slots. */
export const IO_COUNTERS = ['events', 'drops', 'inflightFull'] as const;
export const SCHED_COUNTERS = ['events', 'drops'] as const;

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
}

export interface SchedEvent {
  tsNs: number;
  pid: number;
  tid: number;
  cpu: number;
  kind: number;
  runnable: boolean;
}

const F = IO_EVENT.fields;
const S = SCHED_EVENT.fields;

export function decodeIoEvent(b: Buffer, at: number): IoEvent {
  const op = b.readUInt16LE(at + F.op);
  return {
    enterNs: Number(b.readBigUInt64LE(at + F.enter_ns)),
    exitNs: Number(b.readBigUInt64LE(at + F.exit_ns)),
    ret: Number(b.readBigInt64LE(at + F.ret)),
    pid: b.readUInt32LE(at + F.pid),
    tid: b.readUInt32LE(at + F.tid),
    fd: b.readInt32LE(at + F.fd),
    isRead: op === IoOp.read || op === IoOp.readv || op === IoOp.recvmsg,
    op,
  };
}

export function decodeSchedEvent(b: Buffer, at: number): SchedEvent {
  return {
    tsNs: Number(b.readBigUInt64LE(at + S.ts_ns)),
    pid: b.readUInt32LE(at + S.pid),
    tid: b.readUInt32LE(at + S.tid),
    cpu: b.readUInt32LE(at + S.cpu),
    kind: b.readUInt16LE(at + S.kind),
    runnable: b.readUInt8(at + S.runnable) !== 0,
  };
}
