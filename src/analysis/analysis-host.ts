// The analysis side of lsptap, run on its own thread (analysis-worker.ts): everything that
// costs time per message — framing, pairing, kernel timing, the log, the summary, the
// metrics — fed from the ring the relay thread fills. Records arrive in the order the relay
// saw them, so each session's Session sees exactly what it would have seen inline. This
// file dispatches the relay thread's records to the hosted sessions; what a session is
// made of is session-parts.ts's business.

import fs from 'node:fs';
import { serverNameOf } from '../model/process-name';
import type { Session } from './session';
import { openComposedSession, prepareThreadParts, type MetricsServing, type SessionParts } from './session-parts';
import { SessionLog, type SessionLogChild } from '../sinks/session-log';
import { formatKernelTable, formatSummaryTable, formatExplanations } from '../sinks/summary';
import { formatFdReport } from '../sinks/kernel-text';
import type { FdReport } from '../model/record';
import type { KernelOption } from '../probes/kernel-option';
import type { Direction } from '../model/frame';
import { RecordType, type RingRecord, type SkipOffers } from '../bridge/chunk-ring';
import type { AnalysisConfig, ControlRecord, FinishReply, SessionEndRequest, SessionStartRequest, SessionState, StartReply, WorkerMessage } from '../bridge/protocol';

const DIRS: readonly Direction[] = ['c2s', 's2c'];

function isRegularFile(fd: number): boolean {
  try { return fs.fstatSync(fd).isFile(); } catch { return false; }
}

interface Hosted {
  log: SessionLogChild;
  session: Session | null;
  parts: SessionParts | null;
  observing: boolean;
  s2cCut: boolean;
  s2cOffset: number;
  /** The server's program name (gopls), for sentences; null in socket mode. */
  serverName?: string | null;
}

export type InitResult = { ok: true; kernel: boolean } | { ok: false; kind: 'bpf' | 'metrics'; message: string };

export class AnalysisHost {
  private log: SessionLog | null = null;
  /** The log's file (null: stderr): the profile file goes beside it. */
  private logPath: string | null = null;
  private readonly hosted = new Map<number, Hosted>();
  private kernel: KernelOption | null = null;
  private metrics: MetricsServing | null = null;
  /** Set by a `fatal` record: the relay thread is blocked until we have written everything. */
  fatalSeen = false;

  /** skips: where sessions tell the relay which bytes need not be copied (the ring's reader); null: never. */
  constructor(private readonly config: AnalysisConfig, private readonly post: (m: WorkerMessage) => void, private readonly skips: SkipOffers | null = null) {}

  /** Load the probes and start the metrics server; failures are startup errors. */
  async init(): Promise<InitResult> {
    const r = await prepareThreadParts(this.config);
    if (!r.ok) return r;
    this.kernel = r.kernel;
    this.metrics = r.metrics;
    return { ok: true, kernel: r.kernel.loaded };
  }

  /** One record from the ring. Chunk payloads are views into the ring: used, never kept. */
  readonly onRecord = (rec: RingRecord): void => {
    if (rec.type === RecordType.Chunk) {
      const h = this.hosted.get(rec.session);
      if (h === undefined || !h.observing || h.session === null) return;
      try {
        h.session.observe(DIRS[rec.dir], rec.payload, rec.readNs, rec.forwardedNs);
      } catch (err) {
        h.observing = false;
        h.session.observerFailed(err);
      }
      return;
    }
    if (rec.type === RecordType.Gap) {
      const h = this.hosted.get(rec.session);
      if (h === undefined || !h.observing || h.session === null) return;
      try {
        h.session.skip(DIRS[rec.dir], rec.gapBytes, rec.payload.readDoubleLE(0));
      } catch (err) {
        h.observing = false;
        h.session.observerFailed(err);
      }
      return;
    }
    if (rec.type === RecordType.Control) this.control(rec.session, JSON.parse(rec.payload.toString('utf8')) as ControlRecord);
  };

  private reply(req: number, value: unknown): void { this.post({ type: 'reply', req, value }); }

  private control(sid: number, c: ControlRecord): void {
    switch (c.t) {
      case 'open-log':
        this.log = new SessionLog(c.fd, c.withBodies, {}, { sync: isRegularFile(c.fd), path: c.path, graceMs: c.graceMs, say: (text) => this.post({ type: 'say', text }) });
        this.logPath = c.path ?? null;
        return;
      case 'logger':
        this.hosted.set(sid, { log: this.logOrThrow().child(c.bindings), session: null, parts: null, observing: false, s2cCut: false, s2cOffset: 0 });
        return;
      case 'release':
        if (this.hosted.get(sid)?.session === null) this.hosted.delete(sid);
        return;
      case 'start':
        this.reply(c.req, this.start(sid, c));
        return;
      case 'line': {
        const h = this.hosted.get(sid);
        if (h === undefined) return;
        if (c.level === 'info') h.log.info(c.msg, c.fields);
        else if (c.level === 'warn') h.log.warn(c.msg, c.fields);
        else h.log.error(c.msg, c.fields);
        return;
      }
      case 'end': {
        const h = this.hosted.get(sid);
        if (h?.session == null || !h.observing) return;
        if (c.dir === 's2c') { h.s2cCut = h.session.insideFrame('s2c'); h.s2cOffset = h.session.bytesSeen('s2c'); }
        h.session.end(c.dir);
        return;
      }
      case 'observer-failed': {
        const h = this.hosted.get(sid);
        if (h?.session == null || !h.observing) return;
        h.observing = false;
        h.session.observerFailed(c.err);
        return;
      }
      case 'state': {
        const h = this.hosted.get(sid);
        const state: SessionState = { exitSent: h?.session?.exitSent ?? false, s2cCut: h?.s2cCut ?? false, s2cOffset: h?.s2cOffset ?? 0 };
        this.reply(c.req, state);
        return;
      }
      case 'cut':
        this.hosted.get(sid)?.parts?.cut?.(c.cut);
        this.reply(c.req, {});
        return;
      case 'finish':
        void this.finish(sid, c.end, c.tables).then((v) => this.reply(c.req, v));
        return;
      case 'close':
        void this.close().then(() => this.reply(c.req, {}));
        return;
      case 'fatal': {
        // The whole process is going: every open session's log says so.
        for (const h of this.hosted.values()) h.log.error('lsptap internal error', { err: c.err });
        this.log?.flushSync();
        this.fatalSeen = true;
        return;
      }
    }
  }

  private logOrThrow(): SessionLog {
    if (this.log === null) throw new Error('the log was not opened before the first session');
    return this.log;
  }

  private start(sid: number, c: SessionStartRequest): StartReply {
    const skips = this.skips;
    const skims = skips === null ? null : (dir: Direction, until: number, on: boolean): void => {
      if (on) skips.offerSkip(DIRS.indexOf(dir), sid, until);
      else skips.withdrawSkip(DIRS.indexOf(dir), sid, until);
    };
    const { log, session, parts, reply } = openComposedSession({ log: this.logOrThrow(), logPath: this.logPath, kernel: this.kernel!, metrics: this.metrics }, c, skims);
    const command = (c.fields as { command?: unknown }).command;
    const serverName = serverNameOf(command);
    this.hosted.set(sid, { log, session, parts, observing: true, s2cCut: false, s2cOffset: 0, serverName });
    return reply;
  }

  private async finish(sid: number, end: SessionEndRequest, tables: boolean): Promise<FinishReply> {
    const h = this.hosted.get(sid);
    if (h?.session == null) return { summaryTable: null, kernelTable: null };
    this.hosted.delete(sid);
    const extra = h.parts === null ? {} : await h.parts.stop();
    await h.session.finish({ ...end, ...extra });
    if (!tables) return { summaryTable: null, kernelTable: null };
    const { rows, omitted } = h.session.summary.lineRows();
    const summaryTable = formatSummaryTable(rows) + (omitted === null ? '' : `(${omitted.rows} more rows, ${omitted.count} messages, not shown: ${omitted.reason})\n`);
    const kernel = formatKernelTable(rows);
    if (kernel === '') return { summaryTable, kernelTable: null };
    const explained = formatExplanations(h.session.summary.slowestKernel, h.serverName ?? undefined);
    const fds = (extra.kernel as { fds?: FdReport } | undefined)?.fds;
    const kernelTable = kernel + (explained === '' ? '' : `\nslowest requests, explained:\n${explained}`) + (fds === undefined ? '' : `\n${formatFdReport(fds)}`);
    return { summaryTable, kernelTable };
  }

  /** An internal error is about to end this thread: say so in every open session's log and write it all. */
  failed(err: Error): void {
    for (const h of this.hosted.values()) h.log.error('lsptap internal error in the analysis thread; relaying goes on unlogged', { err: err.stack ?? String(err) });
    this.log?.flushSync();
  }

  /** Stop everything: release probes no session took, stop serving metrics, drain the log. */
  async close(): Promise<void> {
    for (const [sid, h] of this.hosted) {
      if (h.parts !== null) await h.parts.stop();
      this.hosted.delete(sid);
    }
    this.kernel?.close();
    await this.metrics?.server.close();
    await this.log?.close();
  }
}
