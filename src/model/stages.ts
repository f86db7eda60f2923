// The ports records flow through after pairing: an optional stage that may hold a record to
// attach data to it (kernel timing), then the sinks (log, summary, metrics). Defined here,
// below both the analysis thread that composes them and the folders that implement them.

import type { Direction } from './frame';
import type { MessageRecord } from './record';

/**
 * A stage between pairing and the sinks that may attach data to a record (kernel timing)
 * and pass it on later; flush() passes on everything held.
 */
export interface RecordStage {
  push(rec: MessageRecord, next: (rec: MessageRecord) => void): void;
  flush(): Promise<void>;
}

/** Anything that wants every finished record (summary, metrics). */
export interface RecordSink {
  add(rec: MessageRecord): void;
  /** A `bad input` warning in direction dir (metrics count them). */
  badInput?(dir: Direction): void;
}

/**
 * What kernel timing hands one session (probes/kernel-timing.ts for a session that owns its
 * probes, probes/listen-kernel-timing.ts for a --listen connection): the stage its records
 * pass through, fields for `session start`, and stop(), whose fields go on `session end`.
 */
/**
 * Where a session's byte streams stood when kernel timing began to watch a session already
 * relaying (the relay thread's counts, taken while both directions were held and lsptap's
 * writes had all reached the kernel): bytes lsptap had read from the client (c2sRead) and
 * from the server (s2cRead), and forwarded (written), at hrtime atNs (a decimal string);
 * it forwarded nothing more before releasedNs.
 */
export interface StreamCut { atNs: string; c2sRead: number; c2sWritten: number; s2cRead: number; s2cWritten: number; waiting: StreamsWaiting; releasedNs: string }

/**
 * Bytes waiting, at a cut, in the pipe or socket between lsptap and each peer: what the
 * editor wrote and lsptap has not read (fromEditor), what lsptap wrote and the editor has not
 * read (toEditor), and the same with the server; null where it cannot be known.
 */
export interface StreamsWaiting { fromEditor: Waiting | null; toEditor: Waiting | null; toServer: Waiting | null; fromServer: Waiting | null }

/** Bytes waiting in one pipe or socket, read by a call made between hrtimes fromNs and toNs. */
export interface Waiting { bytes: number; fromNs: number; toNs: number }

export interface KernelTiming {
  stage: RecordStage;
  extraStart: Record<string, unknown>;
  /**
   * Set when the session was relaying before the probes watched: the relay thread must hold
   * both directions, flush, and hand over its counts (cut); messages from then on get kernel fields.
   */
  cut?: (at: StreamCut) => void;
  stop(): Promise<Record<string, unknown>>;
  /** Events the kernel dropped so far (ring buffers full), read from the counter maps. */
  kernelDrops(): number;
}

/** The log calls kernel timing makes (a session's log child has them). */
export interface KernelLog {
  info?(msg: string, fields: Record<string, unknown>): void;
  warn(msg: string, fields: Record<string, unknown>): void;
  error(msg: string, fields: Record<string, unknown>): void;
}

/** `--bpf MODE`: kernel timing where it loads (auto), never (off), or refuse to start without it (require). */
export type BpfMode = 'off' | 'auto' | 'require';

/**
 * --profile-hz's default: 99 a second per CPU, as bcc's profile and perf use (off the
 * kernel's tick). docs/benchmarks.md has what it costs the server and lsptap.
 */
export const DEFAULT_PROFILE_HZ = 99;
/** The highest --profile-hz takes: past this the sampling costs the server more than it tells. */
export const MAX_PROFILE_HZ = 10_000;
