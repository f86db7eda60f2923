// The JSON log: one pino line per message plus session start / summary / session end and
// warnings. Lines are batched for LINE_BATCH_MS (line-batch.ts), then go through sonic-boom
// asynchronously with no minimum buffer, so each line is handed to the kernel within
// milliseconds (editors SIGKILL) yet the relay never waits on the disk. The summary and
// session end lines are handed over at once. close() drains it on every way out, waiting at
// most the grace period; a log that cannot take lines (full disk, stalled reader) costs lines,
// counted (log-outlet.ts), never memory or the relay.
// Schema: README "Log schema".

import pino from 'pino';
import type { FrameWarning } from '../model/frame';
import { LineBatch } from './line-batch';
import { LogOutlet } from './log-outlet';
import type { MessageRecord } from '../model/record';
import type { MessageCounts, MethodStats } from './summary';

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
  summary: MethodStats[];
  [extra: string]: unknown;
}

type Dest = ReturnType<typeof pino.destination>;

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

// Number(ns) rounds only past 2^53 ns (104 days of hrtime) and then by a few ns: far below
// the µs kept here, and no BigInt is allocated per field.
const msRel = (ns: bigint, startNs: number): number => Math.round((Number(ns) - startNs) / 1e3) / 1e3;

export class SessionLog {
  private readonly dest: Dest;
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
    this.dest = pino.destination({ fd, sync, minLength: 0 });
    this.outlet = new LogOutlet(this.dest, sync, {
      // A failing log must never take the relay down: say so once, count what is lost.
      onFailed: (err) => this.say(`lsptap: cannot write the log to ${this.where}: ${err.message}; relaying goes on, lines not logged are counted (logLinesDropped) and logging resumes if it can\n`),
      onResumed: (lost, why) => {
        this.logger.warn({ session: 'log', logLinesDropped: lost, reason: why }, 'log lines lost');
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
    return new SessionLogChild(this.logger.child(bindings), this.withBodies, this.batch.flush, () => this.outlet.linesDropped);
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

/** JSON text of a string value; strings that repeat (methods, kinds) are escaped once. */
const quoted = new Map<string, string>();
const QUOTED_MAX = 4096;
function quote(s: string): string {
  let q = quoted.get(s);
  if (q === undefined) {
    q = JSON.stringify(s);
    if (quoted.size < QUOTED_MAX && s.length < 128) quoted.set(s, q);
  }
  return q;
}

/**
 * Writes pino's `message` lines, one per message, the way pino writes any line (its level
 * prefix, its clock, the child's pre-serialised bindings, its stream, in order with every
 * other line) but without its generic per-key serialiser: pino looks up serializers and
 * stringifiers and escapes each key on every line, which was 23% of the analysis thread's
 * CPU under the profiler (throughput workload). Keys are escaped once here, values by type.
 */
class MessageLines {
  private readonly head: string;
  private readonly bindings: string;
  private readonly time: () => string;
  private readonly stream: { write(line: string): unknown };
  private readonly keys = new Map<string, string>();
  readonly enabled: boolean;

  constructor(logger: pino.Logger) {
    const l = logger as unknown as Record<symbol, unknown>;
    const lsCache = l[pino.symbols.lsCacheSym] as Record<number, string>;
    this.head = lsCache[pino.levels.values.info];
    this.bindings = l[pino.symbols.chindingsSym] as string;
    this.time = l[pino.symbols.timeSym] as () => string;
    this.stream = l[pino.symbols.streamSym] as { write(line: string): unknown };
    this.enabled = logger.isLevelEnabled('info');
  }

  write(fields: Record<string, unknown>, msg: string): void {
    let line = this.head + this.time() + this.bindings;
    for (const key in fields) {
      const v = fields[key];
      let text: string;
      switch (typeof v) {
        case 'string': text = quote(v); break;
        case 'number': text = Number.isFinite(v) ? String(v) : 'null'; break;
        case 'boolean': text = v ? 'true' : 'false'; break;
        case 'object': text = v === null ? 'null' : JSON.stringify(v); break;
        default: continue;
      }
      let k = this.keys.get(key);
      if (k === undefined) { k = `,${JSON.stringify(key)}:`; this.keys.set(key, k); }
      line += k + text;
    }
    this.stream.write(`${line},"msg":${quote(msg)}}\n`);
  }
}

/** Writes one session's lines. */
export class SessionLogChild {
  private startNs = 0n;
  private startNum = 0;
  private readonly lines: MessageLines;
  constructor(private readonly logger: pino.Logger, private readonly withBodies: boolean, private readonly flushBatch: () => void = () => {}, private readonly linesDropped: () => number = () => 0) {
    this.lines = new MessageLines(logger);
  }

  sessionStart(info: SessionStartInfo): void {
    this.startNs = info.startNs;
    this.startNum = Number(info.startNs);
    const { startNs, startTime, ...rest } = info;
    // Fallback for a caller that did not read the wall clock with startNs: later, so less exact.
    this.logger.info({ ...rest, startNs: String(startNs), startTime: startTime ?? new Date().toISOString() }, 'session start');
  }

  message(rec: MessageRecord): void {
    const s = this.startNum;
    const line: Record<string, unknown> = {
      dir: rec.dir, kind: rec.kind, method: rec.method, id: rec.id,
      bytes: rec.bytes, headerBytes: rec.headerBytes, offset: rec.offset,
      firstByteMs: msRel(rec.firstByteNs, s), lastByteMs: msRel(rec.lastByteNs, s), forwardedMs: msRel(rec.forwardedNs, s),
      clock: rec.clock,
    };
    if (rec.kind === 'response') {
      line.isError = rec.isError;
      line.latencyMs = rec.latencyMs === null ? null : Math.round(rec.latencyMs * 1000) / 1000;
      if (rec.unmatched) line.unmatched = true;
    }
    if (rec.cancelled) line.cancelled = true;
    if (rec.cancelsId !== null) line.cancelsId = rec.cancelsId;
    if (rec.invalidReason !== null) line.reason = rec.invalidReason;
    if (rec.kernel !== null) line.kernel = rec.kernel;
    if (this.withBodies && rec.body !== null) line.body = rec.body.toString('utf8');
    if (this.lines.enabled) this.lines.write(line, 'message');
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

  summary(rows: MethodStats[], counts: MessageCounts, trigger: string): void {
    this.logger.info({ trigger, counts, summary: rows }, 'summary');
    this.flushBatch(); // the editor may SIGKILL us next
  }

  sessionEnd(info: SessionEndInfo): void {
    this.logger.info({ ...info, logLinesDropped: this.linesDropped() }, 'session end');
    this.flushBatch();
  }
}
