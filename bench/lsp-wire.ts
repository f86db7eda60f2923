// Content-Length framing for the benchmark's own client and echo server: lean on purpose,
// since their cost is paid in every mode and a slow client would hide the proxy's cost.
// Bodies up to keepMax bytes are handed over whole; larger ones only as a counted length
// and a short prefix, so a 50 MB message is never held.

const HEADER_END = Buffer.from('\r\n\r\n', 'latin1');
const LENGTH_RE = /content-length:\s*(\d+)/i;
const PREFIX_MAX = 256;

export type MessageHandler = (body: Buffer | null, bodyBytes: number, prefix: Buffer) => void;

/** Encode one JSON text as an LSP frame. */
export function frameOf(json: string): Buffer {
  const body = Buffer.from(json, 'utf8');
  return Buffer.concat([Buffer.from(`Content-Length: ${body.length}\r\n\r\n`, 'latin1'), body]);
}

export class WireReader {
  private head: Buffer | null = null;
  private remaining = -1;
  private bodyBytes = 0;
  private parts: Buffer[] = [];
  private prefix: Buffer | null = null;

  constructor(private readonly onMessage: MessageHandler, private readonly keepMax = 1 << 20) {}

  push(chunk: Buffer): void {
    let buf = chunk;
    let i = 0;
    if (this.head !== null) { buf = Buffer.concat([this.head, chunk]); this.head = null; }
    while (i < buf.length) {
      if (this.remaining < 0) {
        const end = buf.indexOf(HEADER_END, i);
        if (end < 0) { this.head = buf.subarray(i); return; }
        const m = LENGTH_RE.exec(buf.toString('latin1', i, end));
        if (m === null) throw new Error('bench wire: header without Content-Length');
        this.bodyBytes = Number(m[1]);
        this.remaining = this.bodyBytes;
        this.parts = [];
        this.prefix = null;
        i = end + 4;
        if (this.remaining === 0) this.complete();
        continue;
      }
      const n = Math.min(this.remaining, buf.length - i);
      const piece = buf.subarray(i, i + n);
      if (this.bodyBytes <= this.keepMax) this.parts.push(piece);
      else if (this.prefix === null) this.prefix = Buffer.from(piece.subarray(0, PREFIX_MAX));
      i += n;
      this.remaining -= n;
      if (this.remaining === 0) this.complete();
    }
  }

  private complete(): void {
    this.remaining = -1;
    if (this.bodyBytes <= this.keepMax) {
      const body = this.parts.length === 1 ? this.parts[0] : Buffer.concat(this.parts);
      this.parts = [];
      this.onMessage(body, this.bodyBytes, body.subarray(0, PREFIX_MAX));
    } else {
      const prefix = this.prefix ?? Buffer.alloc(0);
      this.prefix = null;
      this.onMessage(null, this.bodyBytes, prefix);
    }
  }
}
