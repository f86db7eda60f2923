// UTF-8 validation of a body fed piece by piece, without copying the pieces: a sequence
// split across two pieces is completed in a small buffer and checked on its own.

import { isUtf8 } from 'node:buffer';

/** Validates UTF-8 across piece boundaries without copying pieces. */
export class Utf8Stream {
  private tail = Buffer.alloc(8);
  private tailLen = 0;
  /** After a gap: the next piece may begin inside a character; its continuation bytes are not checked. */
  private afterGap = false;
  ok = true;

  reset(): void { this.tailLen = 0; this.ok = true; this.afterGap = false; }

  /** Bytes went by unseen: forget the sequence in progress and pick up at the next lead byte. */
  gap(): void { this.tailLen = 0; this.afterGap = true; }

  feed(buf: Buffer, start: number, end: number): void {
    if (!this.ok || start >= end) return;
    let from = start;
    if (this.afterGap) {
      while (from < end && from - start < 3 && (buf[from] & 0xc0) === 0x80) from++;
      if (from === end) return;
      this.afterGap = false;
    }
    if (this.tailLen > 0) {
      // Complete the sequence left over from the previous piece.
      const need = seqLen(this.tail[0]) - this.tailLen;
      const take = Math.min(need, end - start);
      buf.copy(this.tail, this.tailLen, start, start + take);
      this.tailLen += take;
      from = start + take;
      if (take < need) return;
      if (!isUtf8(this.tail.subarray(0, this.tailLen))) { this.ok = false; return; }
      this.tailLen = 0;
    }
    const cut = incompleteTailStart(buf, from, end);
    if (cut > from && !isUtf8(buf.subarray(from, cut))) { this.ok = false; return; }
    if (cut < end) {
      buf.copy(this.tail, 0, cut, end);
      this.tailLen = end - cut;
    }
  }

  finish(): boolean { return this.ok && this.tailLen === 0; }
}

function seqLen(lead: number): number {
  if (lead < 0x80) return 1;
  if (lead >= 0xf0 && lead <= 0xf4) return 4;
  if (lead >= 0xe0) return lead <= 0xef ? 3 : 1;
  if (lead >= 0xc2) return 2;
  return 1; // continuation or invalid lead: let isUtf8 reject it
}

/** Index where an incomplete multi-byte sequence at the end of [from,end) starts, or end. */
function incompleteTailStart(buf: Buffer, from: number, end: number): number {
  for (let k = 1; k <= 3 && end - k >= from; k++) {
    const c = buf[end - k];
    if ((c & 0xc0) === 0x80) continue; // continuation byte: keep looking for the lead
    const len = seqLen(c);
    return len > k ? end - k : end;
  }
  return end;
}
