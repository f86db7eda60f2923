// One observed LSP connection: two framers feed one pairing table; records flow through an
// optional enrichment stage (kernel timing) to the log and the sinks it is given (the
// summary, the metrics; composed in session-parts.ts). Transport-agnostic:
// whoever owns the byte streams (child process, socket) calls observe() and end().

import type { Direction, Frame, FrameWarning } from '../model/frame';
import { Framer } from './framer';
import { Pairing } from './pairing';
import type { MessageRecord } from '../model/record';
import type { Summary } from '../sinks/summary';
import type { RecordSink, RecordStage } from '../model/stages';
import type { SessionEndInfo, SessionLogChild, UnansweredRequest } from '../sinks/session-log';

/** `initialize` is the client's first message and its response nearly always the server's first. */
const FIRST_BODIES_KEPT = 4;

export interface SessionOptions {
  log: SessionLogChild;
  startNs: bigint;
  /** Keep bodies up to this size for --bodies (0: none). */
  retainBodyMax: number;
  stage: RecordStage | null;
  /** The summary the `summary` and `session end` lines report. */
  summary: Summary;
  /** Every finished record goes to each (the summary among them); bad input too, where they count it. */
  sinks: RecordSink[];
  /** Tell the relay it may send dir's bytes before `until` as lengths only (on), or no more (off); see Framer. */
  skims?: ((dir: Direction, until: number, on: boolean) => void) | null;
}

export class Session {
  readonly summary: Summary;
  private readonly framers: Record<Direction, Framer>;
  private readonly pairing: Pairing;
  private readonly log: SessionLogChild;
  private readonly stage: RecordStage | null;
  private readonly sinks: RecordSink[];
  private summaryWritten = false;
  private observing = true;
  readonly startNs: bigint;
  warnings = 0;

  constructor(opts: SessionOptions) {
    this.log = opts.log;
    this.startNs = opts.startNs;
    this.stage = opts.stage;
    this.summary = opts.summary;
    this.sinks = opts.sinks;
    this.pairing = new Pairing({
      onAnomaly: (dir, offset, reason, id) => { this.warnings++; this.onBadInput(dir); this.log.warn('bad input', { dir, offset, reason, seen: id === null ? null : String(id) }); },
      onFirstEviction: (dir, maxPending) => {
        this.warnings++;
        this.log.warn('pending requests evicted', {
          dir, maxPending,
          reason: `more than ${maxPending} requests waited for an answer; the oldest are dropped from pairing, counted in session end's evicted, and later answers to them in evictedAnswered (said once, not per message)`,
        });
      },
    });
    const skims = opts.skims;
    const make = (dir: Direction): Framer => new Framer({
      dir, retainBodyMax: opts.retainBodyMax, keepFirstBodies: FIRST_BODIES_KEPT,
      onFrame: this.onFrame, onWarning: this.onWarning,
      onSkimmable: skims == null ? undefined : (until, on) => skims(dir, until, on),
    });
    this.framers = { c2s: make('c2s'), s2c: make('s2c') };
  }

  /** Observe a chunk already forwarded in direction dir. */
  observe(dir: Direction, chunk: Buffer, readNs: bigint, forwardedNs: bigint): void {
    if (this.observing) this.framers[dir].push(chunk, readNs, forwardedNs);
  }

  /** Bytes forwarded in direction dir but not copied here (Framer.skip); throws if out of place. */
  skip(dir: Direction, bytes: number, offset: number): void {
    if (this.observing) this.framers[dir].skip(bytes, offset);
  }

  /** The relay's observer threw: log once and stop observing; bytes keep flowing. */
  observerFailed(err: unknown): void {
    this.observing = false;
    this.log.error('observer failed; relaying without observing', { err: String(err instanceof Error ? err.stack : err) });
  }

  bytesSeen(dir: Direction): number { return this.framers[dir].bytesSeen; }

  /** Direction dir stopped part-way through a message (call before end()). */
  insideFrame(dir: Direction): boolean { return this.observing && this.framers[dir].insideFrame; }

  /** The client has sent the `exit` notification. */
  get exitSent(): boolean { return this.summaryWritten; }

  /** EOF on direction dir: reports a frame cut short. */
  end(dir: Direction): void {
    if (this.observing) this.framers[dir].end();
  }

  /** Write the summary line now (the client sent `exit`; an editor may SIGKILL us next). */
  writeSummary(trigger: string): void {
    this.summaryWritten = true;
    this.log.summary(this.summary.lineRows(), this.summary.counts, trigger);
  }

  /** Flush held records, then write `session end`. */
  async finish(end: Pick<SessionEndInfo, 'exitCode' | 'signal' | 'reason'> & Record<string, unknown>): Promise<void> {
    if (this.stage !== null) await this.stage.flush();
    const nowNs = process.hrtime.bigint();
    const unanswered: UnansweredRequest[] = this.pairing.unanswered().map((r) => ({
      dir: r.dir, id: r.id, method: r.method, cancelled: r.cancelled,
      waitedMs: Math.round(Number(nowNs - r.forwardedNs) / 1e3) / 1e3,
    }));
    this.log.sessionEnd({
      ...end,
      counts: this.summary.counts,
      unanswered,
      unansweredCount: this.pairing.unansweredCount,
      evicted: this.pairing.evicted,
      evictedAnswered: this.pairing.evictedAnswered,
      warnings: this.warnings,
      ...this.lineSummary(),
    });
  }

  /** `summary`, and `summaryOmitted` when the line cannot list every row. */
  private lineSummary(): Pick<SessionEndInfo, 'summary' | 'summaryOmitted'> {
    const { rows, omitted } = this.summary.lineRows();
    return omitted === null ? { summary: rows } : { summary: rows, summaryOmitted: omitted };
  }

  get summaryAlreadyWritten(): boolean { return this.summaryWritten; }

  private readonly onFrame = (frame: Frame): void => {
    const rec = this.pairing.toRecord(frame);
    if (this.stage === null) { this.emit(rec); return; }
    this.stage.push(rec, this.emit);
    // After `exit` an editor may SIGKILL at once: pass every held record on now, kernel
    // fields or not, so the log is complete.
    if (rec.dir === 'c2s' && rec.kind === 'notification' && rec.method === 'exit') void this.stage.flush();
  };

  private readonly emit = (rec: MessageRecord): void => {
    this.log.message(rec);
    for (const sink of this.sinks) sink.add(rec);
    if (rec.dir === 'c2s' && rec.kind === 'notification' && rec.method === 'exit') this.writeSummary('exit notification');
  };

  private onBadInput(dir: Direction): void {
    for (const sink of this.sinks) sink.badInput?.(dir);
  }

  private readonly onWarning = (w: FrameWarning): void => {
    this.warnings++;
    this.onBadInput(w.dir);
    this.log.frameWarning(w);
  };
}
