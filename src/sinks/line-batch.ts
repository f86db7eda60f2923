// Sits between the log's writers (pino, and the message lines written as bytes) and
// sonic-boom, and hands over the lines of a few milliseconds as one Buffer. Why: with no
// minimum length every lone line would cost an fs.write (through libuv's thread pool for a
// pipe, whose wake-ups sit on the relay's latency path); a batch bounds that while every
// line still reaches the kernel within delayMs. Lines are encoded once, into this arena, and
// the bytes go on as they are: a string handed to sonic-boom would be encoded again.

export interface LineSink {
  /**
   * `lines` whole lines; data is the sink's to keep (the batch never writes into it again).
   * keep: lines that must not be dropped for a slow reader (a session's last lines).
   */
  write(data: Buffer, lines: number, keep: boolean): boolean;
}

/** Batches larger than this are handed over at once rather than waiting for the timer. */
const BATCH_BYTES = 64 * 1024;

export class LineBatch {
  // Lines are copied into this arena as they come: pino builds each line as a tree of
  // concatenated pieces, and holding those trees for milliseconds made them survive
  // young-generation collections (GC rose from 10% to 32% of lsptap's CPU).
  private arenaBuf = Buffer.allocUnsafe(BATCH_BYTES);
  private used = 0;
  private lines = 0;
  private handedOver = 0;
  private timer: NodeJS.Timeout | null = null;
  /** Inside kept(): what is handed over must not be dropped. */
  private keeping = false;

  constructor(private readonly dest: LineSink, private readonly delayMs: number) {}

  /** pino's stream interface: queue one line. */
  write(line: string): boolean {
    if (line.length * 3 > BATCH_BYTES - this.used) {
      this.flush();
      if (line.length * 3 > BATCH_BYTES) { this.writeBytes(Buffer.from(line, 'utf8')); return true; }
    }
    this.commit(this.used + this.arenaBuf.write(line, this.used, 'utf8'));
    return true;
  }

  /**
   * Make room for one line of at most maxBytes: afterwards `arena` from `position` on holds
   * that many bytes, to be written and then commit()ted. False when no batch can hold it
   * (hand it to writeBytes() instead).
   */
  reserve(maxBytes: number): boolean {
    if (maxBytes <= BATCH_BYTES - this.used) return true;
    this.flush();
    return maxBytes <= BATCH_BYTES;
  }

  /** A line too long for a batch: after everything queued, on its own. */
  writeBytes(line: Buffer): void {
    this.flush();
    this.dest.write(line, 1, this.keeping);
  }

  /**
   * Write lines with `write` and hand them over at once as lines to keep (what was queued
   * before them goes first, as usual): a session's summary and end, which a reader that is
   * behind must still get.
   */
  kept(write: () => void): void {
    this.flush();
    this.keeping = true;
    try {
      write();
      this.flush();
    } finally {
      this.keeping = false;
    }
  }

  /** Where lines are written (read it after reserve(): a flush may replace it). */
  get arena(): Buffer { return this.arenaBuf; }

  /** Where the next line starts in the arena. */
  get position(): number { return this.used; }

  /** Changes whenever the arena's bytes are handed over: positions in it from before are stale. */
  get generation(): number { return this.handedOver; }

  /** One line was written into the arena, up to end. */
  commit(end: number): void {
    this.used = end;
    this.lines++;
    if (this.timer === null) {
      this.timer = setTimeout(this.flush, this.delayMs);
      this.timer.unref();
    }
  }

  /** Hand everything queued to the destination now. */
  readonly flush = (): void => {
    if (this.timer !== null) { clearTimeout(this.timer); this.timer = null; }
    if (this.used === 0) return;
    // The sink may hold the bytes (a slow reader) while new lines come: a full arena is
    // handed over whole and replaced (copying 64 KiB cost more than making a new one), a
    // few lines are copied out (a new arena per line would hold 64 KiB per line).
    let data: Buffer;
    if (this.used >= BATCH_BYTES / 4) {
      data = this.arenaBuf.subarray(0, this.used);
      this.arenaBuf = Buffer.allocUnsafe(BATCH_BYTES);
    } else {
      data = Buffer.allocUnsafe(this.used);
      this.arenaBuf.copy(data, 0, 0, this.used);
    }
    const lines = this.lines;
    this.used = 0;
    this.lines = 0;
    this.handedOver++;
    this.dest.write(data, lines, this.keeping);
  };
}
