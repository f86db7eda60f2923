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
// the relay is held when the analysis falls 8 MiB behind. Once skimming (and not keeping the
// body for --bodies), the framer lets the relay send the value's middle as lengths only
// (skip()): those bytes are neither copied across threads nor UTF-8 checked. What the skim gives up: inside
// that one value, bracket and string structure is not checked; a top-level member between
// two nested values is not seen (JSON-RPC has one: `params`, `result` or `error`).
//
// Checks are structural (one top-level object, balanced brackets of matching kinds,
// terminated strings, key/colon/comma shape at the top level, valid UTF-8, valid
// top-level primitives). Inside nested values only strings and brackets are followed;
// the exact grammar of nested numbers and literals is not checked (JSON.parse does
// that for small bodies).

import type { Identity } from '../model/frame';
import { classify, invalidIdentity } from './identity';
import { Json, isJsonWs, readJsonPrimitive, NOT_A_PRIMITIVE } from './json-bytes';
import { Utf8Stream } from './utf8-stream';
import { SkimTail } from './skim-tail';

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

/** Which top-level key is being read; only these four matter. */
const enum K { Other, Id, Method, Result, Error }

const CAPTURE_MAX = 1024;
const STACK_MAX = 1024;

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
  private readonly tail = new SkimTail();

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
    this.tail.clear();
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
    if (this.state === S.Skim) { this.tail.keep(buf, start, end); return; }
    let i = start;
    while (i < end && this.state !== S.Failed) {
      switch (this.state) {
        case S.TopStart: {
          const c = buf[i++];
          if (isJsonWs(c)) break;
          if (c === Json.LBrace) { this.state = S.KeyOrEnd; this.afterComma = false; break; }
          this.fail(c === Json.LBracket ? 'JSON but not a JSON-RPC message (top level is not an object)' : 'body is not JSON (does not start with "{")');
          break;
        }
        case S.KeyOrEnd: {
          const c = buf[i++];
          if (isJsonWs(c)) break;
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
          if (isJsonWs(c)) break;
          if (c === Json.Colon) { this.state = S.Value; break; }
          this.fail('body is not JSON (expected ":" after a key)');
          break;
        }
        case S.Value: {
          const c = buf[i];
          if (isJsonWs(c)) { i++; break; }
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
              this.tail.keep(buf, i, end);
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
          if (c === Json.Comma || c === Json.RBrace || isJsonWs(c)) {
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
          if (isJsonWs(c)) break;
          if (c === Json.Comma) { this.state = S.KeyOrEnd; this.afterComma = true; break; }
          if (c === Json.RBrace) { this.state = S.Done; break; }
          this.fail('body is not JSON (expected "," or "}" after a value)');
          break;
        }
        case S.Done: {
          const c = buf[i++];
          if (!isJsonWs(c)) this.fail('body is not JSON (data after the top-level object)');
          break;
        }
        default:
          i = end;
      }
    }
  }

  /** Inside the skimmed value: what follows is only counted (and UTF-8 checked) until the tail. */
  get skimming(): boolean { return this.state === S.Skim; }

  /**
   * Bytes of the skimmed value that were not copied to this thread (chunk-ring.ts,
   * "Skipping"): counted, not checked. The tail is read from what is fed after them.
   */
  skip(bytes: number): void {
    this.fed += bytes;
    this.utf8.gap();
    this.tail.clear();
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

  /** End of a skimmed body: take the members read backwards from the tail. */
  private readTail(): void {
    const read = this.tail.readMembers();
    if (typeof read === 'string') { this.fail(read); return; }
    for (const m of read) {
      this.key = m.key === 'id' ? K.Id : m.key === 'method' ? K.Method : m.key === 'result' ? K.Result : m.key === 'error' ? K.Error : K.Other;
      this.markKeySeen();
      if (this.key === K.Id) this.id = m.value;
      else if (this.key === K.Method) this.method = m.value;
    }
    this.state = S.Done;
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
    const value = this.captureOverflow ? NOT_A_PRIMITIVE : readJsonPrimitive(raw);
    if (value === NOT_A_PRIMITIVE) { this.fail(`body is not JSON (bad value ${JSON.stringify(raw.slice(0, 32))})`); return; }
    if (this.key === K.Id) this.id = value;
    else if (this.key === K.Method) this.method = value;
    this.state = S.AfterValue;
  }
}
