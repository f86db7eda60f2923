// A streaming scanner for large JSON-RPC bodies: fed the body piece by piece as chunks
// arrive, it tracks strings and bracket depth and captures only the top-level `id`,
// `method`, `result` and `error`, so a 50 MB didOpen is never copied, decoded or parsed.
// Key order is not assumed: Go's jsonrpc2 writes `id` after `params`/`result`.
//
// A body of SKIM_MIN bytes or more is skimmed past its first top-level nested value (the
// `params` of a 50 MB didOpen, a huge `result`): inside it only UTF-8 is checked (native)
// and the last TAIL_BYTES are kept; at the end, the members after it (Go's jsonrpc2 writes
// `id` after `params`) are read backwards from that tail. Following every string of an
// escape-dense text cost one indexOf per quote (~450 MB/s, 110 ms of CPU per 50 MB), and
// the relay is held when the analysis falls 8 MiB behind. What the skim gives up: inside
// that one value, bracket and string structure is not checked; a top-level member between
// two nested values is not seen (JSON-RPC has one: `params`, `result` or `error`).
//
// Checks are structural (one top-level object, balanced brackets of matching kinds,
// terminated strings, key/colon/comma shape at the top level, valid UTF-8, valid
// top-level primitives). Inside nested values only strings and brackets are followed;
// the exact grammar of nested numbers and literals is not checked (JSON.parse does
// that for small bodies).

import { isUtf8 } from 'node:buffer';
import type { Identity } from '../model/frame';
import { classify, invalidIdentity } from './identity';
import { Json } from './json-bytes';

/* eslint-disable @typescript-eslint/no-unsafe-enum-comparison -- bytes compared with Json's byte values (json-bytes.ts) */

/**
 * TypedArray's indexOf, a V8 builtin. Buffer#indexOf goes through Node's JS wrapper, which
 * runs interpreted until it is hot: in a fresh process the first 50 MB body took 168 ms to
 * scan with it and 39 ms with this (warm: 22 and 33 ms).
 */
// eslint-disable-next-line @typescript-eslint/unbound-method -- called with .call(view, ...)
const U8_INDEX_OF = Uint8Array.prototype.indexOf;

const enum S {
  TopStart, KeyOrEnd, Key, Colon, Value, StrValue, Prim, Nested, AfterValue, Done, Failed, Skim,
}

/** Bodies at least this long are skimmed past their first top-level nested value. */
export const SKIM_MIN = 1 << 20;
/** Bytes of a skimmed body kept to read its last members from. */
const TAIL_BYTES = 4096;

/** Which top-level key is being read; only these four matter. */
const enum K { Other, Id, Method, Result, Error }

const CAPTURE_MAX = 1024;
const STACK_MAX = 1024;

function isWs(c: number): boolean {
  return c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09;
}

const NUMBER_RE = /^-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?$/;

/** Validates UTF-8 across piece boundaries without copying pieces. */
class Utf8Stream {
  private tail = Buffer.alloc(8);
  private tailLen = 0;
  ok = true;

  reset(): void { this.tailLen = 0; this.ok = true; }

  feed(buf: Buffer, start: number, end: number): void {
    if (!this.ok || start >= end) return;
    let from = start;
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

export class BodyScanner {
  private state = S.TopStart;
  private failReason: string | null = null;
  private depth = 0;
  private readonly stack = new Uint8Array(STACK_MAX);
  private inNestedString = false;
  /** Backslashes at the end of the string text seen so far (escape parity across pieces). */
  private backslashRun = 0;
  private key = K.Other;
  private capturing = false;
  private readonly capture = Buffer.alloc(CAPTURE_MAX);
  private captureLen = 0;
  private captureOverflow = false;
  private afterComma = false;
  private readonly utf8 = new Utf8Stream();
  /** The whole body's length when known (reset(total)), and bytes fed so far. */
  private total = -1;
  private fed = 0;
  private readonly tail = Buffer.alloc(TAIL_BYTES);
  private tailLen = 0;

  private hasId = false;
  private id: unknown = undefined;
  private hasMethod = false;
  private method: unknown = undefined;
  private hasResult = false;
  private hasError = false;

  /** Start a new body; total: its length, when known (enables the skim). */
  reset(total = -1): void {
    this.total = total;
    this.fed = 0;
    this.tailLen = 0;
    this.state = S.TopStart;
    this.failReason = null;
    this.depth = 0;
    this.inNestedString = false;
    this.backslashRun = 0;
    this.key = K.Other;
    this.capturing = false;
    this.captureLen = 0;
    this.captureOverflow = false;
    this.afterComma = false;
    this.utf8.reset();
    this.hasId = false;
    this.id = undefined;
    this.hasMethod = false;
    this.method = undefined;
    this.hasResult = false;
    this.hasError = false;
  }

  /** Feed body bytes buf[start, end). Never throws. */
  feed(buf: Buffer, start: number, end: number): void {
    this.utf8.feed(buf, start, end);
    const fedBefore = this.fed;
    this.fed += end - start;
    if (this.state === S.Skim) { this.keepTail(buf, start, end); return; }
    let i = start;
    while (i < end && this.state !== S.Failed) {
      switch (this.state) {
        case S.TopStart: {
          const c = buf[i++];
          if (isWs(c)) break;
          if (c === Json.LBrace) { this.state = S.KeyOrEnd; this.afterComma = false; break; }
          this.fail(c === Json.LBracket ? 'JSON but not a JSON-RPC message (top level is not an object)' : 'body is not JSON (does not start with "{")');
          break;
        }
        case S.KeyOrEnd: {
          const c = buf[i++];
          if (isWs(c)) break;
          if (c === Json.Quote) { this.beginString(true); this.state = S.Key; break; }
          if (c === Json.RBrace && !this.afterComma) { this.state = S.Done; break; }
          this.fail('body is not JSON (expected a key at the top level)');
          break;
        }
        case S.Key: {
          const q = this.scanString(buf, i, end);
          if (q < 0) { i = end; break; }
          i = q + 1;
          this.key = this.keyOf();
          this.state = S.Colon;
          break;
        }
        case S.Colon: {
          const c = buf[i++];
          if (isWs(c)) break;
          if (c === Json.Colon) { this.state = S.Value; break; }
          this.fail('body is not JSON (expected ":" after a key)');
          break;
        }
        case S.Value: {
          const c = buf[i];
          if (isWs(c)) { i++; break; }
          this.markKeySeen();
          if (c === Json.Quote) {
            i++;
            this.beginString(this.key === K.Id || this.key === K.Method);
            this.state = S.StrValue;
          } else if (c === Json.LBrace || c === Json.LBracket) {
            i++;
            this.depth = 1;
            this.stack[0] = c;
            this.inNestedString = false;
            this.state = S.Nested;
            if (this.total >= SKIM_MIN && this.total - (fedBefore + i - start) >= SKIM_MIN) {
              this.state = S.Skim;
              this.keepTail(buf, i, end);
              i = end;
            }
            if (this.key === K.Id) this.id = {};
            if (this.key === K.Method) this.method = {};
          } else {
            this.beginString(true); // primitives are captured raw, then validated
            this.state = S.Prim;
          }
          break;
        }
        case S.StrValue: {
          const q = this.scanString(buf, i, end);
          if (q < 0) { i = end; break; }
          i = q + 1;
          if (this.capturing) {
            const s = this.decodeCapturedString();
            if (s === null) break; // failed
            if (this.key === K.Id) this.id = s;
            else if (this.key === K.Method) this.method = s;
          }
          this.state = S.AfterValue;
          break;
        }
        case S.Prim: {
          const c = buf[i];
          if (c === Json.Comma || c === Json.RBrace || isWs(c)) {
            this.endPrimitive();
            this.state = this.state === S.Prim ? S.AfterValue : this.state;
            break; // delimiter handled by AfterValue
          }
          this.appendCapture(buf, i, i + 1);
          i++;
          break;
        }
        case S.Nested:
          i = this.scanNested(buf, i, end);
          break;
        case S.AfterValue: {
          const c = buf[i++];
          if (isWs(c)) break;
          if (c === Json.Comma) { this.state = S.KeyOrEnd; this.afterComma = true; break; }
          if (c === Json.RBrace) { this.state = S.Done; break; }
          this.fail('body is not JSON (expected "," or "}" after a value)');
          break;
        }
        case S.Done: {
          const c = buf[i++];
          if (!isWs(c)) this.fail('body is not JSON (data after the top-level object)');
          break;
        }
        default:
          i = end;
      }
    }
  }

  /** Identity of everything fed since reset(). */
  finish(): Identity {
    if (this.state === S.Skim) this.readTail();
    if (this.state === S.Prim) this.endPrimitive();
    if (this.state === S.Failed) return invalidIdentity(this.failReason ?? 'body is not JSON');
    // Structure before UTF-8, as identity.ts: a body cut short by a wrong Content-Length is
    // "not JSON" (the framer resyncs) even when the cut also split a character.
    if (this.state === S.TopStart) return invalidIdentity('body is not JSON (empty)');
    if (this.state !== S.Done) return invalidIdentity('body is not JSON (ends before the top-level object closes)');
    if (!this.utf8.finish()) return invalidIdentity('body is not valid UTF-8');
    return classify({
      hasMethod: this.hasMethod, method: this.method,
      hasId: this.hasId, id: this.id,
      hasResult: this.hasResult, hasError: this.hasError,
      cancelId: undefined, // $/cancelRequest bodies are small and take the JSON.parse path
    });
  }

  /** Keep the last TAIL_BYTES of what has been fed while skimming. */
  private keepTail(buf: Buffer, start: number, end: number): void {
    const n = end - start;
    if (n >= TAIL_BYTES) { buf.copy(this.tail, 0, end - TAIL_BYTES, end); this.tailLen = TAIL_BYTES; return; }
    const keep = Math.min(this.tailLen, TAIL_BYTES - n);
    if (keep < this.tailLen) this.tail.copy(this.tail, 0, this.tailLen - keep, this.tailLen);
    buf.copy(this.tail, keep, start, end);
    this.tailLen = keep + n;
  }

  /**
   * End of a skimmed body: read the members after the skimmed value backwards from the
   * tail (`..., "key": primitive-or-string }`), up to the skimmed value's closing bracket.
   */
  private readTail(): void {
    const t = this.tail;
    let p = this.tailLen - 1;
    const skipWs = (): void => { while (p >= 0 && isWs(t[p])) p--; };
    const unterminated = 'body is not JSON (ends before the top-level object closes)';
    skipWs();
    if (p < 0 || t[p] !== Json.RBrace) { this.fail(unterminated); return; }
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
        value = this.tailString(open, p);
        if (value === null) return;
        p = open - 1;
      } else {
        const valueEnd = p + 1;
        while (p >= 0 && !isWs(t[p]) && t[p] !== Json.Colon) p--;
        if (p < 0) break;
        value = this.tailPrimitive(p + 1, valueEnd);
        if (value === undefined) return;
      }
      skipWs();
      if (p < 0) break;
      if (t[p] !== Json.Colon) { this.fail('body is not JSON (expected ":" after a key)'); return; }
      p--;
      skipWs();
      if (p < 0) break;
      if (t[p] !== Json.Quote) { this.fail('body is not JSON (expected a key at the top level)'); return; }
      const keyOpen = this.openingQuote(p);
      if (keyOpen < 0) break;
      const key = this.tailString(keyOpen, p);
      if (key === null) return;
      p = keyOpen - 1;
      this.key = key === 'id' ? K.Id : key === 'method' ? K.Method : key === 'result' ? K.Result : key === 'error' ? K.Error : K.Other;
      this.markKeySeen();
      if (this.key === K.Id) this.id = value;
      else if (this.key === K.Method) this.method = value;
      skipWs();
      if (p < 0) break;
      if (t[p] !== Json.Comma) { this.fail('body is not JSON (expected "," or "}" after a value)'); return; }
      p--;
    }
    this.state = S.Done;
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

  private tailString(open: number, close: number): string | null {
    try {
      return JSON.parse(this.tail.toString('utf8', open, close + 1)) as string;
    } catch {
      this.fail('body is not JSON (bad escape in a string)');
      return null;
    }
  }

  private tailPrimitive(from: number, to: number): unknown {
    const raw = this.tail.toString('latin1', from, to);
    if (raw === 'true') return true;
    if (raw === 'false') return false;
    if (raw === 'null') return null;
    if (NUMBER_RE.test(raw)) return Number(raw);
    this.fail(`body is not JSON (bad value ${JSON.stringify(raw.slice(0, 32))})`);
    return undefined;
  }

  private fail(reason: string): void {
    if (this.state === S.Failed) return;
    this.state = S.Failed;
    this.failReason = reason;
  }

  private beginString(capture: boolean): void {
    this.backslashRun = 0;
    this.capturing = capture;
    this.captureLen = 0;
    this.captureOverflow = false;
  }

  private appendCapture(buf: Buffer, from: number, to: number): void {
    if (!this.capturing || from >= to) return;
    const room = CAPTURE_MAX - this.captureLen;
    if (to - from > room) { this.captureOverflow = true; to = from + room; }
    buf.copy(this.capture, this.captureLen, from, to);
    this.captureLen += to - from;
  }

  /**
   * Finds the closing quote of the current string in buf[from,end) using indexOf
   * and backslash-run parity, so long strings cost a native search, not a JS loop.
   * Returns its index, or -1 when the string continues past end.
   */
  private scanString(buf: Buffer, from: number, end: number): number {
    let seg = from;
    for (;;) {
      const q = U8_INDEX_OF.call(buf, Json.Quote, seg);
      if (q < 0 || q >= end) {
        this.appendCapture(buf, seg, end);
        let k = end - 1;
        while (k >= seg && buf[k] === Json.Backslash) k--;
        const run = end - 1 - k;
        this.backslashRun = k < seg ? this.backslashRun + run : run;
        return -1;
      }
      let k = q - 1;
      while (k >= seg && buf[k] === Json.Backslash) k--;
      let run = q - 1 - k;
      if (k < seg) run += this.backslashRun;
      this.appendCapture(buf, seg, q + ((run & 1) === 1 ? 1 : 0));
      this.backslashRun = 0;
      if ((run & 1) === 0) return q;
      seg = q + 1;
    }
  }

  /** Follows strings and brackets inside a nested value; returns where it stopped. */
  private scanNested(buf: Buffer, i: number, end: number): number {
    while (i < end) {
      if (this.inNestedString) {
        const q = this.scanString(buf, i, end);
        if (q < 0) return end;
        i = q + 1;
        this.inNestedString = false;
        continue;
      }
      const c = buf[i++];
      if (c === Json.Quote) {
        this.inNestedString = true;
        this.backslashRun = 0;
        this.capturing = false;
      } else if (c === Json.LBrace || c === Json.LBracket) {
        if (this.depth < STACK_MAX) this.stack[this.depth] = c;
        this.depth++;
      } else if (c === Json.RBrace || c === Json.RBracket) {
        this.depth--;
        if (this.depth < STACK_MAX) {
          const open = this.stack[this.depth];
          if ((c === Json.RBrace) !== (open === Json.LBrace)) { this.fail('body is not JSON (mismatched brackets)'); return end; }
        }
        if (this.depth === 0) { this.state = S.AfterValue; return i; }
      }
    }
    return i;
  }

  private keyOf(): K {
    if (this.captureOverflow) return K.Other;
    let n = this.captureLen;
    let b = this.capture;
    // An escaped spelling ("\u0069d") is the same key to JSON.parse: decode the rare key
    // holding a backslash, then match bytes as usual.
    if (b.subarray(0, n).includes(Json.Backslash)) {
      const s = this.decodeCapturedString();
      if (s === null) return K.Other;
      b = Buffer.from(s, 'utf8');
      n = b.length;
    }
    if (n === 2 && b[0] === 0x69 && b[1] === 0x64) return K.Id;
    if (n === 6 && b.toString('latin1', 0, 6) === 'method') return K.Method;
    if (n === 6 && b.toString('latin1', 0, 6) === 'result') return K.Result;
    if (n === 5 && b.toString('latin1', 0, 5) === 'error') return K.Error;
    return K.Other;
  }

  private markKeySeen(): void {
    switch (this.key) {
      case K.Id: this.hasId = true; break;
      case K.Method: this.hasMethod = true; break;
      case K.Result: this.hasResult = true; break;
      case K.Error: this.hasError = true; break;
      default: break;
    }
  }

  private decodeCapturedString(): string | null {
    if (this.captureOverflow) return `${this.capture.toString('utf8', 0, 64)}...`;
    try {
      return JSON.parse(`"${this.capture.toString('utf8', 0, this.captureLen)}"`) as string;
    } catch {
      this.fail('body is not JSON (bad escape in a string)');
      return null;
    }
  }

  private endPrimitive(): void {
    const raw = this.capture.toString('latin1', 0, this.captureLen);
    let value: unknown;
    if (raw === 'true') value = true;
    else if (raw === 'false') value = false;
    else if (raw === 'null') value = null;
    else if (!this.captureOverflow && NUMBER_RE.test(raw)) value = Number(raw);
    else { this.fail(`body is not JSON (bad value ${JSON.stringify(raw.slice(0, 32))})`); return; }
    if (this.key === K.Id) this.id = value;
    else if (this.key === K.Method) this.method = value;
    this.state = S.AfterValue;
  }
}
