// The relay thread's end of the analysis thread. Forwarded chunks are copied into the shared
// ring (one memcpy, no allocation) and the analysis thread is woken only when it sleeps, so
// the relay's per-chunk cost stays flat however much the log, the pairing or kernel timing
// cost. The parts, one job each: analysis-thread.ts starts the worker, ring-backlog.ts holds
// what the ring cannot take and pauses the relays, pending-replies.ts answers requests,
// analysis-priority.ts sets the thread's scheduling policy, fatal-handoff.ts is the exit
// path of a bug of ours, session-channel.ts is one session's end.
//
// The link is usable at once: records written before the thread runs wait in the ring, in
// order. The thread itself starts with launch(), or, for a child server, on startThread()
// once the server is spawned (prepare(): nothing of the thread's start delays the server's).
// `started` says when the thread has loaded the probes and serves metrics; only
// --bpf=require and --metrics can make it fail, so only they wait for it before a server starts.

import type { Worker } from 'node:worker_threads';
import { ChunkRingWriter, createRingBuffers, type RingBuffers } from '../../bridge/chunk-ring';
import type { AnalysisConfig, ControlRecord, SessionStartRequest, StartReply, WorkerMessage } from '../../bridge/protocol';
import type { Direction } from '../../model/frame';
import { StartupError, MetricsAddressError } from '../../model/errors';
import { startAnalysisThread } from './analysis-thread';
import { AnalysisPriority } from './analysis-priority';
import { handOverFatal } from './fatal-handoff';
import { PendingReplies } from './pending-replies';
import { RingBacklog } from './ring-backlog';
import { SessionChannel, lineLogOf, type ChannelPort, type LineLog } from './session-channel';
import { writeStderr } from '../stderr';

export { BACKLOG_HOLD_BYTES, BACKLOG_RESUME_BYTES } from './ring-backlog';
export { SessionChannel, type LineLog } from './session-channel';

/** Size of the shared ring: a few seconds of a busy session's traffic. */
export const RING_BYTES = 16 << 20;

export class AnalysisLink implements ChannelPort {
  private worker: Worker | null = null;
  private threadReady!: (ready: Promise<{ kernel: boolean; tid: number | null }>) => void;
  private readonly writer: ChunkRingWriter;
  private readonly backlog: RingBacklog;
  private readonly replies = new PendingReplies();
  private readonly priority = new AnalysisPriority();
  private nextSid = 1;
  private broken = false;
  private closing = false;
  private kernel: boolean | null = null;
  /** Resolves once the thread has loaded the probes and serves metrics; rejects with the startup error to print. */
  readonly started: Promise<void>;
  /** Kernel timing asked for (--bpf other than off). */
  readonly kernelWanted: boolean;

  private constructor(private readonly config: AnalysisConfig, private readonly ring: RingBuffers) {
    this.kernelWanted = config.bpf !== 'off';
    this.writer = new ChunkRingWriter(ring);
    this.backlog = new RingBacklog(this.writer, (on) => this.priority.holding(on));
    const threadReady = new Promise<Promise<{ kernel: boolean; tid: number | null }>>((resolve) => { this.threadReady = resolve; });
    this.started = threadReady.then((ready) => ready).then(({ kernel, tid }) => {
      this.kernel = kernel;
      this.priority.started(tid);
      const worker = this.worker!;
      worker.on('error', (err) => this.fail(`failed: ${err.message}`));
      worker.on('exit', (code) => { if (!this.closing) this.fail(`stopped (exit code ${code})`); });
    }, (err: unknown) => {
      // A startup error is printed by whoever awaited `started`; anything else is a bug of ours.
      const expected = err instanceof StartupError || err instanceof MetricsAddressError;
      this.fail(`did not start: ${err instanceof Error ? err.message : String(err)}`, expected);
      throw err;
    });
    // Awaited only where start-up can fail; elsewhere fail() has said it.
    this.started.catch(() => undefined);
  }

  /** A link whose thread starts now; the link takes records at once (see the header). */
  static launch(config: AnalysisConfig): AnalysisLink {
    const link = AnalysisLink.prepare(config);
    link.startThread();
    return link;
  }

  /** A link that takes records at once and starts its thread on startThread() (or close()). */
  static prepare(config: AnalysisConfig): AnalysisLink {
    return new AnalysisLink(config, createRingBuffers(RING_BYTES));
  }

  /** Start the analysis thread, once; what was written before waits in the ring. */
  startThread(): void {
    if (this.worker !== null) return;
    const { worker, ready } = startAnalysisThread(this.config, this.ring);
    this.worker = worker;
    // Replies may follow `ready` in the same turn: listen from the start.
    worker.on('message', (m: WorkerMessage) => {
      if (m.type === 'space') this.backlog.flush();
      else if (m.type === 'failed') this.fail(`failed: ${m.message}`);
      else if (m.type === 'say') writeStderr(m.text);
      else if (m.type === 'reply') this.replies.answer(m.req, m.value);
    });
    this.threadReady(ready);
  }

  /** Start the analysis thread and wait until it has started (or failed to). */
  static async start(config: AnalysisConfig): Promise<AnalysisLink> {
    const link = AnalysisLink.launch(config);
    await link.started;
    return link;
  }

  /** Kernel timing loaded: known once `started` has resolved (false before). */
  get kernelOn(): boolean { return this.kernel === true; }

  /** Where log lines go (the fd stays open until close(), which waits at most graceMs for a log reader). */
  openLog(fd: number, withBodies: boolean, path: string | null, graceMs: number): void { this.control(0, { t: 'open-log', fd, withBodies, path, graceMs }); }

  /** A log for lines that belong to no session (the listener's own); release() when done with it. */
  logger(bindings: Record<string, unknown>): LineLog & { release(): void } {
    const sid = this.nextSid++;
    this.control(sid, { t: 'logger', bindings });
    return { ...lineLogOf(this, sid), release: () => this.control(sid, { t: 'release' }) };
  }

  /**
   * Write `session start` and attach kernel timing and metrics. Returns at once, so the
   * caller can take hold of the streams in this same tick (a child's output is discarded by
   * Node if it exits with nobody reading); `ready` resolves once the probes watch, and with
   * kernel timing wanted no byte should flow before it does.
   */
  openSession(start: SessionStartRequest): { channel: SessionChannel; ready: Promise<StartReply> } {
    const sid = this.nextSid++;
    const ready = this.request<StartReply>(sid, (req) => ({ t: 'start', req, ...start }), { refuse: null, cut: false });
    return { channel: new SessionChannel(this, sid), ready };
  }

  /** Called when the relays must stop reading (true) or may read again (false). */
  onHold(cb: (hold: boolean) => void): () => void { return this.backlog.onHold(cb); }

  /** Everything analysed and written, metrics stopped, probes released. */
  async close(): Promise<void> {
    this.startThread();
    this.priority.close();
    await this.request(0, (req) => ({ t: 'close', req }), {});
    this.closing = true;
    await this.worker!.terminate();
  }

  /**
   * Synchronous exit path (an uncaught exception on this thread): hand over what is held,
   * log the error, and block until the analysis thread has written it all (at most 2 s).
   */
  fatal(err: string): void {
    if (this.broken) return;
    this.startThread();
    this.backlog.flush();
    if (!this.backlog.empty) return;
    handOverFatal(this.writer, err);
  }

  pushChunk(sid: number, dir: Direction, chunk: Buffer, readNs: bigint, forwardedNs: bigint, offset: number): void {
    if (!this.broken) this.backlog.pushChunk(sid, dir === 'c2s' ? 0 : 1, chunk, readNs, forwardedNs, offset);
  }

  control(sid: number, c: ControlRecord): void {
    if (!this.broken) this.backlog.pushControl(sid, Buffer.from(JSON.stringify(c)));
  }

  request<T>(sid: number, make: (req: number) => ControlRecord, fallback: T): Promise<T> {
    const opened = this.broken ? null : this.replies.open(fallback);
    if (opened === null) return Promise.resolve(fallback);
    this.control(sid, make(opened.req));
    return opened.reply;
  }

  /** The analysis thread is gone: keep relaying, answer every question with its fallback. */
  private fail(why: string, quiet = false): void {
    if (this.broken) return;
    this.broken = true;
    if (!quiet) writeStderr(`lsptap: the analysis thread ${why}; relaying goes on without logging\n`);
    this.backlog.drop();
    this.replies.failAll();
  }
}
