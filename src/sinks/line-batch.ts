// Sits between pino and its sonic-boom destination and hands over the lines of a few
// milliseconds as one string. Why: sonic-boom's write() measures the byte length of the
// string it is appending to on every call (quadratic in the lines queued behind one
// in-flight fs.write), and with no minimum length every lone line costs an fs.write through
// libuv's thread pool, whose wake-ups sit on the relay's latency path. A batch bounds both
// while every line still reaches the kernel within delayMs.

export interface LineSink {
  write(data: string): boolean;
}

export class LineBatch {
  private lines: string[] = [];
  private timer: NodeJS.Timeout | null = null;

  constructor(private readonly dest: LineSink, private readonly delayMs: number) {}

  /** pino's stream interface: queue one line. */
  write(line: string): boolean {
    this.lines.push(line);
    if (this.timer === null) {
      this.timer = setTimeout(this.flush, this.delayMs);
      this.timer.unref();
    }
    return true;
  }

  /** Hand everything queued to the destination now. */
  readonly flush = (): void => {
    if (this.timer !== null) { clearTimeout(this.timer); this.timer = null; }
    if (this.lines.length === 0) return;
    const data = this.lines.length === 1 ? this.lines[0] : this.lines.join('');
    this.lines = [];
    this.dest.write(data);
  };
}
