// The record of one message after pairing: what every sink receives. Kernel timing (from
// src/probes) is attached to `kernel` before sinks see the record.

import type { Direction, MessageId, MessageKind } from './frame';
import type { LeafOnlyBinary } from './leaf-stacks';
import type { WaitCause } from './profile-file';

/** A descendant of the server that ran inside a request's window (docs/kernel-timing.md "Fields"). */
export interface KernelChild {
  pid: number;
  comm: string;
  /** The executable as passed to execve; null when it never exec'd. */
  path: string | null;
  /** Its arguments as the kernel handed them over, truncated (a cut last one ends in "…"). */
  args: string[];
  /**
   * Its fork, in µs after the request's window began (the server's read of the request):
   * negative when it started earlier. Puts it on a timeline (`lsptap report --trace`).
   */
  startUs?: number;
  /** Fork to exit; null while it still ran at the window's end. */
  wallUs: number | null;
  cpuUs: number | null;
  exitCode: number | null;
  signal: number | null;
}

/** One fd of the server still open at the end that it opened during the session. */
export interface OpenFd {
  fd: number;
  path: string | null;
  /** ms after kernel timing began watching. */
  atMs: number;
  /** The request whose window it was opened in, or null. */
  method: string | null;
  id: string | number | null;
}

/** The server's fd report in `session end` (kernel.fds) and --summary. */
export interface FdReport {
  startCount: number;
  peakCount: number;
  endCount: number;
  stillOpen: OpenFd[];
  /** Set when its open fd count kept rising across requests (a `fd growth` warn line). */
  growth: { rises: number; from: number; to: number } | null;
}

/** One function and its share of a profile, in percent (one decimal). */
export interface ProfileShare { fn: string; pct: number }
/** Blocked time of one cause in a request's window (ProfileDigest.waitCauses). */
export interface WaitCauseShare { cause: WaitCause; ms: number; in: ProfileShare[] }
export type { LeafOnlyBinary };

/** ProfileDigest.cpuIn's names for ticks no function of the program's own asked for. */
export const CPU_IN_GC = '[Go garbage collector]';
export const CPU_IN_RUNTIME = '[Go runtime]';
export const CPU_IN_KERNEL = '[kernel]';
/** ProfileDigest.waitIn's name for blocked time while no server thread slept in a syscall (Go parks goroutines without one). */
export const NO_WAITER = '[blocked, no thread in a syscall]';

/**
 * A request's profile in a few names (kernel.profile on its response line):
 * the server's CPU ticks in its window, the functions on a CPU (self) and on the stack
 * (total), and its blocked time charged to the functions that waited.
 */
export interface ProfileDigest {
  /** The server's CPU ticks in the window, and the CPU time they stand for. */
  samples: number;
  cpuMs: number;
  /** Functions on a CPU when sampled (the leaf), by share of the ticks. */
  self: ProfileShare[];
  /** Functions anywhere on the stack (once per stack), by share; at equal shares the deeper first. */
  total: ProfileShare[];
  /**
   * What the ticks worked for, by share: the first frame from the leaf outside Go's runtime
   * (so allocation, copying and the kernel's work count for the function that asked for
   * them), `[Go garbage collector]` for the collector's work, `[Go runtime]` for the rest of
   * the runtime's own, `[kernel]` without a user stack. What the sentences quote.
   */
  cpuIn: ProfileShare[];
  /** Binaries whose stacks stop at the leaf here (no frame pointers: model/leaf-stacks.ts); absent when none. */
  leafOnly?: LeafOnlyBinary[];
  /** The blocked time charged to waiting stacks: adds up to serverBlockedUs. */
  waitMs: number;
  /** The function that waited (the first frame above the runtime's and standard library's syscall plumbing), by share. */
  waitIn: ProfileShare[];
  /**
   * The blocked time by what it was spent on (model/profile-file.ts WAIT_CAUSES: `child` and
   * `disk` equal blockedOnChildUs and blockedOnDiskUs, the rest add up to blockedOtherUs),
   * largest first, at most WAIT_CAUSES_MAX, each with the functions that waited on it (`in`,
   * shares of that cause's time, at most three). Absent in logs written before it.
   */
  waitCauses?: WaitCauseShare[];
}

/**
 * Kernel-side breakdown of one message (filled by src/probes when BPF runs): times in µs,
 * counts and bytes as named; null where the kernel did not show what was needed. Which
 * field a message gets depends on its direction and kind (docs/kernel-timing.md "Fields").
 */
export interface KernelTiming {
  fromEditorPipeUs?: number | null;
  lsptapReadUs?: number | null;
  lsptapWriteUs?: number | null;
  toServerPipeUs?: number | null;
  toLsptapPipeUs?: number | null;
  toEditorPipeUs?: number | null;
  serverUs?: number | null;
  serverCpuUs?: number | null;
  serverRunqUs?: number | null;
  serverWriteUs?: number | null;
  serverBlockedUs?: number | null;
  blockedOnChildUs?: number | null;
  blockedOnDiskUs?: number | null;
  blockedOtherUs?: number | null;
  blockedOtherOn?: string | null;
  childCpuUs?: number | null;
  childDiskUs?: number | null;
  children?: KernelChild[] | null;
  fileReads?: number | null;
  fileReadBytes?: number | null;
  pageCacheMisses?: number | null;
  diskIos?: number | null;
  diskIoBytes?: number | null;
  diskIoUs?: number | null;
  fdsOpened?: number | null;
  fdsClosed?: number | null;
  /** Responses, with --profile-hz above 0: what the server's window was spent on. */
  profile?: ProfileDigest | null;
}

export interface MessageRecord {
  dir: Direction;
  kind: MessageKind;
  /** Method; a response carries its request's method, or null when unmatched. */
  method: string | null;
  id: MessageId | null;
  /** Body length in bytes. */
  bytes: number;
  headerBytes: number;
  /** Byte offset of the header in its stream. */
  offset: number;
  /**
   * lsptap's reads of the first and last byte and its write of the last byte (hrtime ns).
   * `clock` says who took them: 'js' around the syscalls, or 'kernel' (the kernel stage
   * replaces them with the syscalls' own return times when it saw all of them).
   */
  firstByteNs: bigint;
  lastByteNs: bigint;
  forwardedNs: bigint;
  clock: 'js' | 'kernel';
  /** Responses: true when it carries `error`; null otherwise. */
  isError: boolean | null;
  /** Responses: request fully forwarded -> response fully read, in ms (by `clock`); null otherwise. */
  latencyMs: number | null;
  /** Responses: the paired request's stream offsets (header's first byte, body's last) and its forward time (for kernel joins and profiles). */
  request: { offset: number; endOffset: number; forwardedNs: bigint } | null;
  /** Requests that a $/cancelRequest named before their response; on responses, whether the request was cancelled. */
  cancelled: boolean;
  /** $/cancelRequest: the id it cancels. */
  cancelsId: MessageId | null;
  invalidReason: string | null;
  /** Responses whose id matched no pending request. */
  unmatched: boolean;
  body: Buffer | null;
  kernel: KernelTiming | null;
}
