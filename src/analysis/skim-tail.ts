// The end of a skimmed body (body-scanner.ts): its last TAIL_BYTES are kept while the large
// nested value streams past unread, and at the end the top-level members after that value
// (Go's jsonrpc2 writes `id` after `params`/`result`) are read backwards from them.

/* eslint-disable @typescript-eslint/no-unsafe-enum-comparison -- bytes compared with Json's byte values (json-bytes.ts) */

import { Json, isJsonWs, readJsonPrimitive, NOT_A_PRIMITIVE } from './json-bytes';

/** Bytes of a skimmed body kept to read its last members from. */
export const TAIL_BYTES = 4096;

/** A top-level member found after the skimmed value, in reverse order of appearance. */
export interface TailMember { key: string; value: unknown }

export class SkimTail {
  private readonly tail = Buffer.alloc(TAIL_BYTES);
  private tailLen = 0;

  clear(): void { this.tailLen = 0; }

  /** Keep the last TAIL_BYTES of what has been fed while skimming. */
  keep(buf: Buffer, start: number, end: number): void {
    const n = end - start;
    if (n >= TAIL_BYTES) { buf.copy(this.tail, 0, end - TAIL_BYTES, end); this.tailLen = TAIL_BYTES; return; }
    const keep = Math.min(this.tailLen, TAIL_BYTES - n);
    if (keep < this.tailLen) this.tail.copy(this.tail, 0, this.tailLen - keep, this.tailLen);
    buf.copy(this.tail, keep, start, end);
    this.tailLen = keep + n;
  }

  /**
   * The members after the skimmed value (`..., "key": primitive-or-string }`), read up to
   * that value's closing bracket or the start of the tail; or the reason the tail is not JSON.
   */
  readMembers(): TailMember[] | string {
    const t = this.tail;
    const members: TailMember[] = [];
    let p = this.tailLen - 1;
    const skipWs = (): void => { while (p >= 0 && isJsonWs(t[p])) p--; };
    skipWs();
    if (p < 0 || t[p] !== Json.RBrace) return 'body is not JSON (ends before the top-level object closes)';
    p--;
    for (;;) {
      skipWs();
      if (p < 0) break; // members longer than the tail: what was seen stands
      const c = t[p];
      if (c === Json.RBrace || c === Json.RBracket) break; // the skimmed value's end
      let value: unknown;
      if (c === Json.Quote) {
        const open = this.openingQuote(p);
        if (open < 0) break;
        value = this.string(open, p);
        if (value === null) return 'body is not JSON (bad escape in a string)';
        p = open - 1;
      } else {
        const valueEnd = p + 1;
        while (p >= 0 && !isJsonWs(t[p]) && t[p] !== Json.Colon) p--;
        if (p < 0) break;
        const raw = t.toString('latin1', p + 1, valueEnd);
        value = readJsonPrimitive(raw);
        if (value === NOT_A_PRIMITIVE) return `body is not JSON (bad value ${JSON.stringify(raw.slice(0, 32))})`;
      }
      skipWs();
      if (p < 0) break;
      if (t[p] !== Json.Colon) return 'body is not JSON (expected ":" after a key)';
      p--;
      skipWs();
      if (p < 0) break;
      if (t[p] !== Json.Quote) return 'body is not JSON (expected a key at the top level)';
      const keyOpen = this.openingQuote(p);
      if (keyOpen < 0) break;
      const key = this.string(keyOpen, p);
      if (key === null) return 'body is not JSON (bad escape in a string)';
      p = keyOpen - 1;
      members.push({ key, value });
      skipWs();
      if (p < 0) break;
      if (t[p] !== Json.Comma) return 'body is not JSON (expected "," or "}" after a value)';
      p--;
    }
    return members;
  }

  /** Index of the quote opening the string that closes at tail[close]; -1 if not in the tail. */
  private openingQuote(close: number): number {
    for (let q = close - 1; q >= 0; q--) {
      if (this.tail[q] !== Json.Quote) continue;
      let k = q - 1;
      while (k >= 0 && this.tail[k] === Json.Backslash) k--;
      if (k < 0) return -1; // the escape run may start before the tail: unsure
      if (((q - 1 - k) & 1) === 0) return q;
    }
    return -1;
  }

  private string(open: number, close: number): string | null {
    try {
      return JSON.parse(this.tail.toString('utf8', open, close + 1)) as string;
    } catch {
      return null;
    }
  }
}
