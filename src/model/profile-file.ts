// The profile file: every sampled stack of a session, beside its log as
// `<log minus .jsonl>.profile.jsonl` (0600, as the log), written by sinks/profile-writer.ts
// on the analysis thread and read by `lsptap profile` (src/profile/). JSON lines:
//
//   {"t":"session","startedAt":"2026-12-07T10:00:00.000Z","hz":99,"session":"ab12cd34"|null}
//   {"t":"mapping","i":1,"start":"0x400000","limit":"0x1200000","offset":"0x0","file":"/usr/bin/gopls","buildId":"…"|null}
//   {"t":"function","i":1,"name":"go/types.(*Checker).exprInternal","file":"/usr/lib/go-1.19/src/go/types/expr.go"|null}
//   {"t":"location","i":1,"mapping":1|0,"address":"0x5a1b2c","function":1|0,"line":1234|0}
//   {"t":"sample","kind":"cpu"|"wait","method":"textDocument/hover"|null,"id":"12"|null,"count":3,"valueNs":30303030,"stack":[5,4,3,2,1]}
//   (a wait sample also has "cause":"child"|"disk"|"lock"|...: WAIT_CAUSES; absent in files written before it)
//   {"t":"cut","samples":120,"count":340,"valueNs":3434343434}
//
// Ids are per session part and defined before use; 0 means none (a frame outside every
// mapping; a location nothing names). A stack lists location ids leaf first: kernel frames
// first (under the mapping whose file is "[kernel]"), then user frames. A location's address
// is the pc as sampled (a return address, not pc-1). method and id null: work with no
// request in flight (the server's background work). count is samples; valueNs is CPU time
// for "cpu" and time blocked for "wait".
//
// Format changes from the sketch, each for a reason: a "session" line opens each
// session's part and resets the ids (`--log FILE` appends sessions to one log, so one profile
// file holds several parts), naming the log's `session` id so a reader can tell requests of
// two sessions with the same id apart; a "cut" line at the end of a part counts the samples left out
// when the file reached its size bound (the writer's counted cut), so a reader can say so.

export const PROFILE_FILE_SUFFIX = '.profile.jsonl';

/** Default bound on one profile file's size; past it samples are counted, not written. */
export const PROFILE_FILE_MAX_BYTES = 64 * 1024 * 1024;

/** The mapping every kernel frame is put under. */
export const KERNEL_MAPPING_FILE = '[kernel]';

export type ProfileKind = 'cpu' | 'wait';

/**
 * What a wait's blocked time was spent on (bpf/profile.h enum profile_wait_cause, in its
 * order from 1). `child` and `disk` are the kernel fields' blockedOnChildUs and
 * blockedOnDiskUs (a descendant ran; a tree thread was in uninterruptible sleep); the rest
 * split blockedOtherUs by the syscall the waiting thread slept in: `lock` (flock, fcntl),
 * `pipe`, `socket`, `file` (a read or write on another fd), `waitpid` (wait4/waitid while
 * every descendant slept), `syscall` (any other), `parked` (no server thread in a syscall:
 * Go parked the goroutine). No name contains another, so pprof's `-tagfocus cause=NAME`
 * (a regular expression) picks one.
 */
export const WAIT_CAUSES = ['child', 'disk', 'lock', 'pipe', 'socket', 'file', 'waitpid', 'syscall', 'parked'] as const;
export type WaitCause = typeof WAIT_CAUSES[number];

/** The profile file that goes with a session log. */
export function profileFileFor(logFile: string): string {
  return `${logFile.endsWith('.jsonl') ? logFile.slice(0, -'.jsonl'.length) : logFile}${PROFILE_FILE_SUFFIX}`;
}

export interface ProfileSessionLine { t: 'session'; startedAt: string; hz: number | null; session: string | null }
export interface ProfileMappingLine { t: 'mapping'; i: number; start: string; limit: string; offset: string; file: string; buildId: string | null }
export interface ProfileFunctionLine { t: 'function'; i: number; name: string; file: string | null }
export interface ProfileLocationLine { t: 'location'; i: number; mapping: number; address: string; function: number; line: number }
export interface ProfileSampleLine { t: 'sample'; kind: ProfileKind; cause?: WaitCause; method: string | null; id: string | null; count: number; valueNs: number; stack: number[] }
export interface ProfileCutLine { t: 'cut'; samples: number; count: number; valueNs: number }
export type ProfileLine = ProfileSessionLine | ProfileMappingLine | ProfileFunctionLine | ProfileLocationLine | ProfileSampleLine | ProfileCutLine;

/** A mapped range as the symbolizer gives it (src/symbols Mapping has this shape). */
export interface ProfileMapping {
  start: bigint;
  limit: bigint;
  offset: bigint;
  file: string;
  buildId: string | null;
}

/** One frame of a stack: where it is and what it is named, as far as known. */
export interface ProfileFrame {
  /** null: outside every mapping. Kernel frames: a mapping whose file is KERNEL_MAPPING_FILE. */
  mapping: ProfileMapping | null;
  /** The pc as sampled. */
  address: bigint;
  fn: string | null;
  file: string | null;
  line: number | null;
}

/** One stack with its count and time in one request window (or none). */
export interface ProfileSample {
  kind: ProfileKind;
  /** Wait samples: what the time was spent on; absent for cpu samples and in older files. */
  cause?: WaitCause;
  method: string | null;
  id: string | number | null;
  count: number;
  valueNs: number;
  /** Leaf first: kernel frames, then user frames. */
  stack: readonly ProfileFrame[];
  /** The log's session id of the part it was read from (set by the reader; the writer ignores it). */
  session?: string | null;
}

/** The mapping for kernel frames: the upper half of the address space. */
export const KERNEL_MAPPING: ProfileMapping = Object.freeze({
  start: 0xffff_8000_0000_0000n, limit: 0xffff_ffff_ffff_ffffn, offset: 0n, file: KERNEL_MAPPING_FILE, buildId: null,
});
