// What the relay thread and the analysis thread say to each other. Bytes and everything
// that must stay in order with them go through the shared ring (chunk-ring.ts) as records;
// control records carry one of the JSON objects below. The analysis thread answers
// requests (`req`) and reports events with postMessage.

import type { Direction } from '../model/frame';
import type { BpfMode, StreamCut } from '../model/stages';
import type { RingBuffers } from './chunk-ring';

/**
 * One `--listen` connection: lsptap's accepted socket (the editor's side) and its way to the
 * server (a socket to the daemon, or the pipes of a server started for this connection),
 * with the pids at the far ends. A peer fd the relay thread did not look up (UNIX sockets)
 * is null and found by the analysis thread.
 */
export interface ConnectionTarget {
  clientFd: number | null;
  clientPid: number | null;
  clientPeerFd: number | null;
  toServerFd: number | null;
  fromServerFd: number | null;
  serverPid: number | null;
  /** The server's fds: its socket (twice) for a daemon, 0 and 1 for a child. */
  serverInFd: number | null;
  serverOutFd: number | null;
}

/** What kernel timing watches for one session, found by the relay thread. */
export type KernelTarget =
  | { kind: 'child'; serverPid: number; toServerFd: number; fromServerFd: number }
  | { kind: 'socket'; fd: number | null; pid: number | null; peerFd: number | null }
  | ({ kind: 'connection' } & ConnectionTarget);

export interface AnalysisConfig {
  bpf: BpfMode;
  metricsAddress: string | null;
  /** --profile-hz: the profiler's rate per CPU while kernel timing runs; 0: off. */
  profileHz: number;
}

/**
 * The thread's first message: what it serves and the ring it reads (the thread waits for it
 * before it does anything).
 */
/**
 * The analysis thread's nice value: far enough below the relay to yield to it. The relay thread
 * gives it to the thread as it is created, the thread sets it again itself (analysis-worker.ts).
 */
export const ANALYSIS_NICE = 10;

export interface ThreadInput { type: 'configure'; config: AnalysisConfig; ring: RingBuffers }

export type LogLevel = 'info' | 'warn' | 'error';

export interface SessionStartRequest {
  sessionId: string;
  retainBodyMax: number;
  /** hrtime (ns) as a decimal string: the session's time origin. */
  startNs: string;
  /** Fields of the `session start` line (command, transport, serverPid...). */
  fields: Record<string, unknown>;
  kernel: KernelTarget | null;
  /** Why kernel timing is off for this session although --bpf asked for it (listen mode). */
  kernelOffReason: string | null;
}

export interface SessionEndRequest {
  exitCode: number | null;
  signal: string | null;
  reason: string;
  lsptapExitCode: number;
  error?: string;
  /** lsptap's CPU since it started, both threads, in ms (with --listen: the listener's, all sessions). */
  lsptapCpuMs: number;
  /** The server's CPU over the session with its descendants', in ms; null when unknown. */
  serverCpuMs: number | null;
}

export type ControlRecord =
  /** path: the log's path (null: stderr), named if it fails; graceMs: the longest its close waits. */
  | { t: 'open-log'; fd: number; withBodies: boolean; path: string | null; graceMs: number }
  /** A log child with these bindings and no session (the listener's own lines). */
  | { t: 'logger'; bindings: Record<string, unknown> }
  /** That log child is no longer needed. */
  | { t: 'release' }
  | ({ t: 'start'; req: number } & SessionStartRequest)
  | { t: 'line'; level: LogLevel; msg: string; fields: Record<string, unknown> }
  | { t: 'end'; dir: Direction }
  | { t: 'observer-failed'; err: string }
  | { t: 'state'; req: number }
  /** The relay thread holds both directions at these counts: kernel timing may start watching (StartReply.cut). */
  | { t: 'cut'; req: number; cut: StreamCut }
  | { t: 'finish'; req: number; end: SessionEndRequest; tables: boolean }
  | { t: 'close'; req: number }
  | { t: 'fatal'; err: string };

/** A session's state once every byte before the request has been analysed. */
export interface SessionState {
  /** The client sent the `exit` notification. */
  exitSent: boolean;
  /** The server-to-client stream ended part-way through a message. */
  s2cCut: boolean;
  /** Bytes seen from the server. */
  s2cOffset: number;
}

export interface StartReply {
  /** Set when --bpf=require and kernel timing failed for this session: stop the server. */
  refuse: string | null;
  /** Kernel timing watches a session already relaying: hold both directions, flush, and send a `cut` with the counts. */
  cut: boolean;
}

export interface FinishReply {
  /** The per-method table (and the kernel one), when asked for. */
  summaryTable: string | null;
  kernelTable: string | null;
}

export type WorkerMessage =
  | { type: 'ready'; kernel: boolean; tid: number | null }
  | { type: 'init-failed'; kind: 'bpf' | 'metrics'; message: string }
  | { type: 'reply'; req: number; value: unknown }
  /** A line for the user on lsptap's stderr (a log that cannot be written). */
  | { type: 'say'; text: string }
  /** The ring has room again (sent when the relay thread said it was waiting). */
  | { type: 'space' }
  /** An internal error ended the analysis thread (its log lines are written). */
  | { type: 'failed'; message: string };
