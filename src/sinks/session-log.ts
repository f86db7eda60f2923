// The JSON log: one pino line per message plus session start / summary / session end and
// warnings; message lines are written as bytes in pino's format (message-line.ts), the rest
// by pino. Lines are batched for LINE_BATCH_MS (line-batch.ts), then go through sonic-boom
// with no minimum buffer, so each line is handed to the kernel within
// milliseconds (editors SIGKILL) yet the relay never waits on the disk. The summary and
// session end lines are handed over at once. close() drains it on every way out, waiting at
// most the grace period; a log that cannot take lines (full disk, stalled reader) costs lines,
// counted (log-outlet.ts), never memory or the relay.
// Schema: docs/log-format.md.

import pino from 'pino';
import type { FrameWarning } from '../model/frame';
import { LineBatch } from './line-batch';
import { LogOutlet, type ByteDest } from './log-outlet';
import { MessageLineWriter } from './message-line';
import { machineFacts } from './machine-facts';
import type { MessageRecord } from '../model/record';
import type { MessageCounts, MethodStats, SummaryLineRows, SummaryOmitted } from './summary';

export interface SessionStartInfo {
  command: string[] | null;
  serverPid: number | null;
  version: string;
  transport: string;
  logPath: string | null;
  cwd: string;
  /** hrtime (ns) that all `*Ms` offsets in this session count from. */
  startNs: bigint;
  /** The wall clock (ISO) at the instant startNs marks, read with it on the relay thread. */
  startTime?: string;
  [extra: string]: unknown;
}

export interface UnansweredRequest { dir: string; id: number | string; method: string; cancelled: boolean; waitedMs: number }

export interface SessionEndInfo {
  exitCode: number | null;
  signal: string | null;
  reason: string;
  counts: MessageCounts;
  unanswered: UnansweredRequest[];
  unansweredCount: number;
  evicted: number;
  /** Responses that matched nothing after evictions: answers to evicted requests. */
  evictedAnswered: number;
  summary: MethodStats[];
  /** Present when the line lists only some rows (summary.ts SUMMARY_LINE_ROWS). */
  summaryOmitted?: SummaryOmitted;
  [extra: string]: unknown;
}


export interface SessionLogOptions {
  /** write on this thread (a regular file) rather than through libuv's pool (pipes). */
  sync?: boolean;
  /** The log's path, or null for stderr: named when it fails. */
  path?: string | null;
  /** The longest close() waits for a log reader before giving up on what is left. */
  graceMs?: number;
  /** One line for the user (stderr, via the relay thread). */
  say?: (text: string) => void;
}

/** How long a log line may wait to be batched with others before it goes to the kernel. */
export const LINE_BATCH_MS = 2;

export class SessionLog {
  private readonly dest: ByteDest;
  private readonly outlet: LogOutlet;
  private readonly batch: LineBatch;
  readonly logger: pino.Logger;
  private closed = false;
  private readonly where: string;
  private readonly graceMs: number;
  private readonly say: (text: string) => void;

  /**
   * sync: write on this thread (the analysis thread, to a regular file: no thread-pool
   * hop per batch); otherwise through libuv's pool, so a pipe that stops reading (stderr
   * unread) never blocks the analysis.
   */
  constructor(fd: number, private readonly withBodies: boolean, bindings: Record<string, unknown> = {}, opts: SessionLogOptions = {}) {
    const sync = opts.sync ?? false;
    this.where = opts.path ?? 'stderr';
    this.graceMs = opts.graceMs ?? 2000;
    this.say = opts.say ?? (() => {});
    // Bytes: the batch hands over lines already encoded (line-batch.ts).
    this.dest = pino.destination({ fd, sync, minLength: 0, contentMode: 'buffer' }) as unknown as ByteDest;
    this.outlet = new LogOutlet(this.dest, sync, {
      // A failing log must never take the relay down: say so once, count what is lost.
      onFailed: (err) => this.say(`lsptap: cannot write the log to ${this.where}: ${err.message}; relaying goes on, lines not logged are counted (logLinesDropped) and logging resumes if it can\n`),
      onResumed: (lost, why) => {
        this.tellLost(lost, why);
        this.batch.flush();
      },
    });
    this.batch = new LineBatch(this.outlet, LINE_BATCH_MS);
    this.logger = pino({ base: { pid: process.pid, ...bindings }, messageKey: 'msg' }, this.batch);
  }

  /** Log lines dropped so far because the log could not take them. */
  get linesDropped(): number { return this.outlet.linesDropped; }

  /** A child for one session among many (listen mode): same destination, `session` on every line. */
  child(bindings: Record<string, unknown>): SessionLogChild {
    return new SessionLogChild(this.logger.child(bindings), this.withBodies, this.batch, this.lastLines);
  }

  /**
   * Write a session's last lines (summary, session end) so that they are not dropped for a
   * reader that is behind, after a `log lines lost` line for what was dropped before them:
   * a session that ends while its reader is behind still ends with its count of lost lines.
   */
  private readonly lastLines: LastLines = {
    write: (write) => this.batch.kept(() => {
      const lost = this.outlet.takeLost();
      if (lost !== null) this.tellLost(lost.lost, lost.why);
      write();
    }),
    dropped: () => this.outlet.linesDropped,
  };

  private tellLost(lost: number, why: string): void {
    this.logger.warn({ session: 'log', logLinesDropped: lost, reason: why }, 'log lines lost');
  }

  /** Write everything queued (waiting at most the grace period), then release the fd (stderr stays open). */
  async close(timeoutMs = this.graceMs): Promise<void> {
    this.batch.flush();
    if (this.closed) return;
    this.closed = true;
    const lost = await this.outlet.close(timeoutMs);
    if (lost > 0) this.say(`lsptap: ${lost} log lines could not be written to ${this.where} before exit (waited ${timeoutMs} ms)\n`);
  }

  /** Last resort on a synchronous exit path (an uncaught exception). */
  flushSync(): void {
    try { this.batch.flush(); this.dest.flushSync(); } catch { /* not ready or destroyed: nothing more to do */ }
  }
}

/** How a session writes its last lines (SessionLog.lastLines). */
interface LastLines {
  write(write: () => void): void;
  /** Log lines dropped so far, for session end's logLinesDropped. */
  dropped(): number;
}

/** Writes one session's lines. */
export class SessionLogChild {
  /** The session's hrtime origin as a number, for the message lines' `*Ms` offsets. */
  private startNum = 0;
  private readonly lines: MessageLineWriter;
  constructor(private readonly logger: pino.Logger, withBodies: boolean, batch: LineBatch, private readonly last: LastLines) {
    this.lines = new MessageLineWriter(logger, batch, withBodies);
  }

  sessionStart(info: SessionStartInfo): void {
    this.startNum = Number(info.startNs);
    const { startNs, startTime, ...rest } = info;
    // Fallback for a caller that did not read the wall clock with startNs: later, so less exact.
    this.logger.info({ ...rest, machine: machineFacts(), startNs: String(startNs), startTime: startTime ?? new Date().toISOString() }, 'session start');
  }

  message(rec: MessageRecord): void {
    this.lines.write(rec, this.startNum);
  }

  frameWarning(w: FrameWarning): void {
    this.logger.warn({ dir: w.dir, offset: w.offset, reason: w.reason, seen: w.seen }, 'bad input');
  }

  warn(msg: string, fields: Record<string, unknown>): void {
    this.logger.warn(fields, msg);
  }

  error(msg: string, fields: Record<string, unknown>): void {
    this.logger.error(fields, msg);
  }

  info(msg: string, fields: Record<string, unknown>): void {
    this.logger.info(fields, msg);
  }

  summary(lineRows: SummaryLineRows, counts: MessageCounts, trigger: string): void {
    const { rows, omitted } = lineRows;
    // Handed over at once: the editor may SIGKILL us next.
    this.last.write(() => this.logger.info(omitted === null ? { trigger, counts, summary: rows } : { trigger, counts, summary: rows, summaryOmitted: omitted }, 'summary'));
  }

  sessionEnd(info: SessionEndInfo): void {
    this.last.write(() => this.logger.info({ ...info, logLinesDropped: this.last.dropped() }, 'session end'));
  }
}
