// The record of one message after pairing: what every sink receives. Kernel timing (from
// src/probes) is attached to `kernel` before sinks see the record.

import type { Direction, MessageId, MessageKind } from './frame';

/** Kernel-side breakdown of one message, in microseconds; filled by src/probes when BPF runs. */
export type KernelTiming = Record<string, number | null>;

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
  /** Responses: the paired request's stream offset and forward time (for kernel joins). */
  request: { offset: number; bytes: number; headerBytes: number; forwardedNs: bigint; lastByteNs: bigint } | null;
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
