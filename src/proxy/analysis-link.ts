// The relay thread's end of the analysis thread. Forwarded chunks are copied into the shared
// ring (one memcpy, no allocation) and the analysis thread is woken only when it sleeps, so
// the relay's per-chunk cost stays flat however much the log, the pairing or kernel timing
// cost. When the analysis thread falls behind and the ring is full, chunks wait here in
// order; past BACKLOG_HOLD_BYTES the relays pause reading (as for a slow peer) until it
// catches up, so memory stays bounded and no message goes unlogged.

import { execFile } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { Worker } from 'node:worker_threads';
import { ChunkRingWriter, RecordType, createRingBuffers } from '../bridge/chunk-ring';
import type { AnalysisConfig, ControlRecord, FinishReply, LogLevel, SessionEndRequest, SessionStartRequest, SessionState, StartReply, WorkerMessage } from '../bridge/protocol';
import type { Direction } from '../model/frame';
import { StartupError, MetricsAddressError } from '../model/errors';
import { writeStderr } from './stderr';

/** Size of the shared ring: a few seconds of a busy session's traffic. */
export const RING_BYTES = 16 << 20;
/**
 * Held-back bytes above which the relays stop reading, and below which they read again:
 * far below a large message (50 MB), so none is ever held whole; 8 MiB rather than 1 let a
 * 50 MB message through 1.41 -> 1.14 x the plain relay's time (bench, 5 repeats).
 */
export const BACKLOG_HOLD_BYTES = 8 << 20;
export const BACKLOG_RESUME_BYTES = 0;

const NO_TIME = 0n;
/** util-linux's chrt, by absolute path: PATH is the editor's, and may not have it. */
const CHRT = '/usr/bin/chrt';

interface Held { type: RecordType; dir: number; sid: number; payload: Uint8Array; readNs: bigint; forwardedNs: bigint }

/** Log lines written from the relay thread (lifecycle events), in order with the bytes. */
export interface LineLog {
  info(msg: string, fields: Record<string, unknown>): void;
  warn(msg: string, fields: Record<string, unknown>): void;
  error(msg: string, fields: Record<string, unknown>): void;
}

export class AnalysisLink {
  private readonly writer: ChunkRingWriter;
  private nextSid = 1;
  private nextReq = 1;
  private readonly pending = new Map<number, { resolve: (v: unknown) => void; fallback: unknown }>();
  private backlog: (Held | undefined)[] = [];
  private backlogHead = 0;
  private backlogBytes = 0;
  private holding = false;
  private readonly holdListeners = new Set<(hold: boolean) => void>();
  private broken = false;
  private closing = false;
  private policy: 'idle' | 'normal' | null = null;
  private idleTimer: NodeJS.Timeout | null = null;

  private constructor(private readonly worker: Worker, ring: ReturnType<typeof createRingBuffers>, readonly kernelOn: boolean, private readonly tid: number | null) {
    this.writer = new ChunkRingWriter(ring);
    this.setPolicy('idle');
    worker.on('message', (m: WorkerMessage) => {
      if (m.type === 'space') this.flush();
      else if (m.type === 'failed') this.fail(`failed: ${m.message}`);
      else if (m.type === 'say') writeStderr(m.text);
      else if (m.type === 'reply') {
        const p = this.pending.get(m.req);
        this.pending.delete(m.req);
        p?.resolve(m.value);
      }
    });
    worker.on('error', (err) => this.fail(`failed: ${err.message}`));
    worker.on('exit', (code) => { if (!this.closing) this.fail(`stopped (exit code ${code})`); });
  }

  /**
   * Start the analysis thread: it loads the probes and starts the metrics server before any
   * server starts. Rejects with the startup error to print (StartupError, MetricsAddressError).
   */
  static start(config: AnalysisConfig): Promise<AnalysisLink> {
    // ffi-rs must be loaded on the main thread before a worker loads it: otherwise the
    // worker's teardown crashes the process (as napi-rs/package-template#308 describes).
    if (config.bpf !== 'off') require('ffi-rs');
    const ring = createRingBuffers(RING_BYTES);
    // A unix metrics socket is made 0600 by binding it under umask 177, which only the main
    // thread can set: hold it until the worker is listening (nothing else is created meanwhile).
    const oldMask = config.metricsAddress?.startsWith('unix:') === true ? process.umask(0o177) : null;
    const restoreMask = (): void => { if (oldMask !== null) process.umask(oldMask); };
    // stdout: true keeps anything the worker might print off our stdout, the client's stream.
    const worker = new Worker(path.join(__dirname, '..', 'analysis', 'analysis-worker.js'), { workerData: { config, ring }, stdout: true, trackUnmanagedFds: false });
    worker.stdout.pipe(process.stderr);
    return new Promise((resolve, reject) => {
      const onMessage = (m: WorkerMessage): void => {
        if (m.type !== 'ready' && m.type !== 'init-failed') return;
        worker.removeListener('message', onMessage);
        worker.removeListener('error', onError);
        restoreMask();
        if (m.type === 'ready') { resolve(new AnalysisLink(worker, ring, m.kernel, m.tid)); return; }
        void worker.terminate();
        reject(m.kind === 'metrics' ? new MetricsAddressError(m.message) : new StartupError(m.message));
      };
      const onError = (err: Error): void => { worker.removeListener('message', onMessage); restoreMask(); reject(err); };
      worker.on('message', onMessage);
      worker.once('error', onError);
    });
  }

  /** Where log lines go (the fd stays open until close(), which waits at most graceMs for a log reader). */
  openLog(fd: number, withBodies: boolean, path: string | null, graceMs: number): void { this.control(0, { t: 'open-log', fd, withBodies, path, graceMs }); }

  /** A log for lines that belong to no session (the listener's own); release() when done with it. */
  logger(bindings: Record<string, unknown>): LineLog & { release(): void } {
    const sid = this.nextSid++;
    this.control(sid, { t: 'logger', bindings });
    return { ...this.lineLog(sid), release: () => this.control(sid, { t: 'release' }) };
  }

  /**
   * Write `session start` and attach kernel timing and metrics. Returns at once, so the
   * caller can take hold of the streams in this same tick (a child's output is discarded by
   * Node if it exits with nobody reading); `ready` resolves once the probes watch, and no
   * byte should flow before it does.
   */
  openSession(start: SessionStartRequest): { channel: SessionChannel; ready: Promise<StartReply> } {
    const sid = this.nextSid++;
    const ready = this.request<StartReply>(sid, (req) => ({ t: 'start', req, ...start }), { refuse: null });
    return { channel: new SessionChannel(this, sid, this.lineLog(sid)), ready };
  }

  /** Called when the relays must stop reading (true) or may read again (false). */
  onHold(cb: (hold: boolean) => void): () => void {
    this.holdListeners.add(cb);
    if (this.holding) cb(true);
    return () => { this.holdListeners.delete(cb); };
  }

  /** Everything analysed and written, metrics stopped, probes released. */
  async close(): Promise<void> {
    // Whatever is still to analyse must not wait for an idle CPU: the exit waits for it.
    if (this.idleTimer !== null) { clearTimeout(this.idleTimer); this.idleTimer = null; }
    this.setPolicy('normal');
    await this.request(0, (req) => ({ t: 'close', req }), {});
    this.closing = true;
    await this.worker.terminate();
  }

  /**
   * Synchronous exit path (an uncaught exception on this thread): hand over what is held,
   * log the error, and block until the analysis thread has written it all (at most 2 s).
   */
  fatal(err: string): void {
    if (this.broken) return;
    this.flush();
    if (this.backlogHead !== this.backlog.length) return;
    if (!this.writer.tryWrite(RecordType.Control, 0, 0, Buffer.from(JSON.stringify({ t: 'fatal', err } satisfies ControlRecord)), NO_TIME, NO_TIME)) return;
    this.writer.wake();
    this.writer.waitFatalDone(2000);
  }

  // The relay's hot path: one call per forwarded chunk.
  pushChunk(sid: number, dir: Direction, chunk: Buffer, readNs: bigint, forwardedNs: bigint): void {
    if (this.broken) return;
    const d = dir === 'c2s' ? 0 : 1;
    if (this.backlogHead === this.backlog.length && chunk.length <= this.writer.maxPayload
      && this.writer.tryWrite(RecordType.Chunk, d, sid, chunk, readNs, forwardedNs)) {
      this.writer.wake();
      return;
    }
    const max = this.writer.maxPayload;
    for (let at = 0; at < chunk.length; at += max) this.hold({ type: RecordType.Chunk, dir: d, sid, payload: chunk.subarray(at, at + max), readNs, forwardedNs });
    this.flush();
  }

  control(sid: number, c: ControlRecord): void {
    if (this.broken) return;
    this.hold({ type: RecordType.Control, dir: 0, sid, payload: Buffer.from(JSON.stringify(c)), readNs: NO_TIME, forwardedNs: NO_TIME });
    this.flush();
  }

  request<T>(sid: number, make: (req: number) => ControlRecord, fallback: T): Promise<T> {
    if (this.broken) return Promise.resolve(fallback);
    const req = this.nextReq++;
    return new Promise<T>((resolve) => {
      this.pending.set(req, { resolve: resolve as (v: unknown) => void, fallback });
      this.control(sid, make(req));
    });
  }

  lineLog(sid: number): LineLog {
    const line = (level: LogLevel) => (msg: string, fields: Record<string, unknown>): void => this.control(sid, { t: 'line', level, msg, fields });
    return { info: line('info'), warn: line('warn'), error: line('error') };
  }

  private hold(h: Held): void {
    this.backlog.push(h);
    this.backlogBytes += h.payload.length;
  }

  /** Move held records into the ring, in order, as far as they fit. */
  private flush(): void {
    for (let pass = 0; pass < 2; pass++) {
      while (this.backlogHead < this.backlog.length) {
        const h = this.backlog[this.backlogHead]!;
        if (!this.writer.tryWrite(h.type, h.dir, h.sid, h.payload, h.readNs, h.forwardedNs)) break;
        this.backlogBytes -= h.payload.length;
        this.backlog[this.backlogHead++] = undefined;
      }
      if (this.backlogHead === this.backlog.length) {
        this.backlog = [];
        this.backlogHead = 0;
        this.writer.producerWaiting = false;
        break;
      }
      // Ask for a `space` message, then look once more: room may have appeared meanwhile.
      this.writer.producerWaiting = true;
    }
    if (this.backlogHead > 4096 && this.backlogHead * 2 > this.backlog.length) {
      this.backlog = this.backlog.slice(this.backlogHead);
      this.backlogHead = 0;
    }
    this.writer.wake();
    if (!this.holding && this.backlogBytes > BACKLOG_HOLD_BYTES) this.setHolding(true);
    else if (this.holding && this.backlogBytes <= BACKLOG_RESUME_BYTES) this.setHolding(false);
  }

  /**
   * SCHED_IDLE: the analysis runs only on a CPU nobody else wants, and any waking relay,
   * editor or server thread preempts it at once (nice alone lets a running thread finish its
   * slice first: the round-trip p99 and the throughput showed it). While the relay is held
   * for it, back to normal (nice 10), so a saturated machine cannot stall the session.
   * Set with chrt(1) (util-linux); without it, nice 10 alone.
   */
  private setPolicy(policy: 'idle' | 'normal'): void {
    if (this.tid === null || policy === this.policy || !fs.existsSync(CHRT)) return;
    this.policy = policy;
    execFile(CHRT, [policy === 'idle' ? '--idle' : '--other', '--pid', '0', String(this.tid)], { timeout: 5000 }, () => undefined);
  }

  private setHolding(on: boolean): void {
    // Back to idle a second after the last hold, not after each: a 50 MB message holds many
    // times, and each change is a process spawn.
    if (this.idleTimer !== null) { clearTimeout(this.idleTimer); this.idleTimer = null; }
    if (on) this.setPolicy('normal');
    else {
      this.idleTimer = setTimeout(() => { this.idleTimer = null; this.setPolicy('idle'); }, 1000);
      this.idleTimer.unref();
    }
    this.holding = on;
    for (const cb of this.holdListeners) cb(on);
  }

  /** The analysis thread is gone: keep relaying, answer every question with its fallback. */
  private fail(why: string): void {
    if (this.broken) return;
    this.broken = true;
    writeStderr(`lsptap: the analysis thread ${why}; relaying goes on without logging\n`);
    this.backlog = [];
    this.backlogHead = 0;
    this.backlogBytes = 0;
    if (this.holding) this.setHolding(false);
    for (const [req, p] of this.pending) { this.pending.delete(req); p.resolve(p.fallback); }
  }
}

/** One session's end of the link, as the relay session uses it. */
export class SessionChannel {
  constructor(private readonly link: AnalysisLink, readonly sid: number, readonly log: LineLog) {}

  readonly observe = (dir: Direction, chunk: Buffer, readNs: bigint, forwardedNs: bigint): void => {
    this.link.pushChunk(this.sid, dir, chunk, readNs, forwardedNs);
  };

  /** EOF on dir. */
  end(dir: Direction): void { this.link.control(this.sid, { t: 'end', dir }); }

  observerFailed(err: unknown): void { this.link.control(this.sid, { t: 'observer-failed', err: String(err instanceof Error ? err.stack : err) }); }

  state(): Promise<SessionState> {
    return this.link.request<SessionState>(this.sid, (req) => ({ t: 'state', req }), { exitSent: false, s2cCut: false, s2cOffset: 0 });
  }

  /** Flush held records, write `session end`; with tables, also return the summary tables. */
  finish(end: SessionEndRequest, tables: boolean): Promise<FinishReply> {
    return this.link.request<FinishReply>(this.sid, (req) => ({ t: 'finish', req, end, tables }), { summaryTable: null, kernelTable: null });
  }

}
