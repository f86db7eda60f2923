// Between the line batch and sonic-boom: what happens when the log cannot take the lines.
// sonic-boom keeps every line it is given until it is written, so a full disk or a stderr
// nobody reads would grow lsptap's memory without bound (issue 13: 757 MB on a full 1 MiB
// tmpfs). Here, instead:
// - writing:   lines go on while fewer than MAX_QUEUED_BYTES wait in sonic-boom (a slow
//              reader), plus one big line (a body kept by --bodies) that waits outside it.
// - backed-up: that many wait: new lines are dropped and counted until the queue is
//              down to half, then a `log lines lost` line says how many (docs/hardening.md "Reliability").
//              A session's last lines are kept even here (write's `keep`), after a `log lines
//              lost` line for what was dropped before them (takeLost).
// - failed:    a write failed (ENOSPC, EIO, EROFS, EFBIG, EPIPE...): said once on stderr, new
//              lines dropped and counted, and every RETRY_MS sonic-boom retries what it holds;
//              once a write succeeds the lines flow again after a `log lines lost` line.
// - closed:    the end; whatever could not be written by then is counted for the caller.
// sonic-boom keeps the unwritten rest of a line it wrote in part, so a line is never cut
// when space comes back.

import type pino from 'pino';
import type { LineSink } from './line-batch';

/** sonic-boom with contentMode 'buffer' (its types know only strings). */
export type ByteDest = Omit<ReturnType<typeof pino.destination>, 'write'> & { write(data: Buffer): boolean };

/** Bytes that may wait for a slow log reader before lines are dropped instead. */
export const MAX_QUEUED_BYTES = 4 << 20;
/** A line (or batch) this big is a big line: one at a time waits outside MAX_QUEUED_BYTES. */
const BIG_LINE_BYTES = MAX_QUEUED_BYTES / 4;
/** How often a failed log is tried again. */
export const RETRY_MS = 1000;

export interface OutletEvents {
  /** The first write error of this log (said once per log). */
  onFailed(err: NodeJS.ErrnoException): void;
  /** Lines flow again; `lost` were dropped meanwhile, for `why`. */
  onResumed(lost: number, why: string): void;
}

type State = 'writing' | 'backed-up' | 'failed' | 'closed';

/** A zero-length write: starts sonic-boom's writer on what it holds. */
const NOTHING = Buffer.alloc(0);

export class LogOutlet implements LineSink {
  private state: State = 'writing';
  /** Lines dropped since the log was opened, and since lines last flowed. */
  private droppedTotal = 0;
  private droppedNow = 0;
  private why = '';
  private told = false;
  /** What sonic-boom holds, oldest first: bytes still unwritten and the lines they end. */
  private readonly queue: { bytes: number; lines: number; big: boolean }[] = [];
  private queuedBytes = 0;
  /** Unwritten bytes of the one big line (over BIG_LINE_BYTES) queued outside the bound, if any. */
  private bigBytes = 0;
  private retry: NodeJS.Timeout | null = null;

  constructor(private readonly dest: ByteDest, private readonly sync: boolean, private readonly events: OutletEvents) {
    dest.on('error', (err: NodeJS.ErrnoException) => this.failed(err));
    // Async writes complete one by one; sync ones inside write() (see below).
    dest.on('write', (n: number) => { if (!this.sync) this.written(n); });
  }

  /** Lines dropped so far (for `session end`'s logLinesDropped). */
  get linesDropped(): number { return this.droppedTotal; }

  write(data: Buffer, lines: number, keep = false): boolean {
    if (this.state === 'failed' || this.state === 'closed') { this.drop(lines); return true; }
    const bytes = data.length;
    // A session's last lines (`log lines lost`, summary, session end) wait even when the queue
    // is full: a few lines per session, and without them a reader that fell behind as the
    // session ended got neither the end nor the count of what it lost.
    if (keep) { this.enqueue(data, lines, false); return true; }
    // The bound is on what waits before a line, and one big line at a time waits outside it:
    // a line bigger than the bound was once dropped with no write in flight to ever resume
    // the log (issue 24: a 4.5 MB didOpen with --bodies ended the log), and counting a big
    // line toward the bound would drop the lines behind it. Memory stays below
    // MAX_QUEUED_BYTES plus two lines and the sessions' last lines, and a line is bounded by --bodies-max.
    if (this.state === 'backed-up' || this.queuedBytes - this.bigBytes >= MAX_QUEUED_BYTES) {
      if (this.state === 'writing') { this.state = 'backed-up'; this.why = 'the log reader is too slow'; }
      this.drop(lines);
      return true;
    }
    this.enqueue(data, lines, bytes > BIG_LINE_BYTES && this.bigBytes === 0);
    return true;
  }

  /**
   * Lines dropped for a slow reader and not yet told of, taken (reset) so that a `log lines
   * lost` line can be written before a session's last lines; null when none are.
   */
  takeLost(): { lost: number; why: string } | null {
    if (this.state !== 'backed-up' || this.droppedNow === 0) return null;
    const lost = this.droppedNow;
    this.droppedNow = 0;
    return { lost, why: this.why };
  }

  private enqueue(data: Buffer, lines: number, big: boolean): void {
    const bytes = data.length;
    this.queue.push({ bytes, lines, big });
    this.queuedBytes += bytes;
    if (big) this.bigBytes = bytes;
    this.dest.write(data);
    // A sync write has reached the kernel when write() returns, unless it failed meanwhile.
    if (this.sync && this.state === 'writing') this.clearQueue();
  }

  /** Stop: wait (at most timeoutMs) for what is queued; resolves with the lines that never made it. */
  close(timeoutMs: number): Promise<number> {
    if (this.retry !== null) { clearInterval(this.retry); this.retry = null; }
    const wasFailed = this.state === 'failed';
    this.state = 'closed';
    const unwritten = (): number => this.queue.reduce((s, q) => s + q.lines, 0);
    if (wasFailed) {
      const lost = unwritten();
      this.clearQueue();
      try { this.dest.destroy(); } catch { /* already */ }
      return Promise.resolve(lost);
    }
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        const lost = unwritten();
        this.clearQueue();
        try { this.dest.destroy(); } catch { /* already */ }
        resolve(lost);
      }, timeoutMs);
      timer.unref();
      this.dest.once('close', () => { clearTimeout(timer); resolve(0); });
      try { this.dest.end(); } catch { clearTimeout(timer); resolve(unwritten()); }
    });
  }

  private drop(n: number): void {
    this.droppedTotal += n;
    this.droppedNow += n;
  }

  private written(n: number): void {
    this.queuedBytes -= n;
    while (n > 0 && this.queue.length > 0) {
      const head = this.queue[0];
      const take = Math.min(n, head.bytes);
      head.bytes -= take;
      if (head.big) this.bigBytes -= take;
      n -= take;
      if (head.bytes === 0) this.queue.shift();
    }
    if (this.state === 'failed' || (this.state === 'backed-up' && this.queuedBytes - this.bigBytes <= MAX_QUEUED_BYTES / 2)) this.resume();
  }

  private clearQueue(): void {
    this.queue.length = 0;
    this.queuedBytes = 0;
    this.bigBytes = 0;
  }

  private failed(err: NodeJS.ErrnoException): void {
    if (this.state === 'closed' || this.state === 'failed') return;
    this.state = 'failed';
    this.why = err.code ?? err.message;
    if (!this.told) { this.told = true; this.events.onFailed(err); }
    if (this.retry === null) {
      this.retry = setInterval(this.tryAgain, RETRY_MS);
      this.retry.unref();
    }
  }

  /** Ask sonic-boom to write what it holds (an empty write starts its writer). */
  private readonly tryAgain = (): void => {
    if (this.state !== 'failed') return;
    this.state = 'writing'; // provisional: a failure during the write sets it back
    this.dest.write(NOTHING);
    if (this.state !== 'writing') return;
    if (this.sync) { this.clearQueue(); this.resume(true); return; }
    this.state = 'failed'; // async: the 'write' event says when it worked
  };

  private resume(now = false): void {
    if (this.retry !== null) { clearInterval(this.retry); this.retry = null; }
    this.state = 'writing';
    const lost = this.droppedNow;
    const why = this.why;
    this.droppedNow = 0;
    if (lost === 0) return;
    // Not from inside sonic-boom's own write callback.
    if (now) this.events.onResumed(lost, why);
    else setImmediate(() => this.events.onResumed(lost, why));
  }
}
