// Identity of a small body (up to SMALL_BODY_MAX, held whole in the framer's buffer) from
// its bytes: one pass over the top level that reads `id`, `method`, `result` and `error`
// and steps over every other value (strings by their quotes, nested values by their
// brackets), with no string decoded but the two it needs and no object built. JSON.parse
// of a 150-byte request cost 2.2 µs and this about 0.3 (bench/small-body figures in the
// commit). It answers only the common, well-formed shape; anything else (an escaped key, an
// escaped or nested id or method, a bad primitive, non-UTF-8, deep nesting) goes to the
// streaming scanner, which gives the same structural verdicts as for large bodies, so both
// sizes follow one rule. `$/cancelRequest` is parsed whole: its `params.id` is wanted.

import { isUtf8 } from 'node:buffer';
import type { Identity } from '../model/frame';
import type { BodyScanner } from './body-scanner';
import { classify, identifyParsed, type TopLevelFields } from './identity';
import { Json } from './json-bytes';

/* eslint-disable @typescript-eslint/no-unsafe-enum-comparison -- bytes compared with Json's byte values (json-bytes.ts) */

/** Nesting the fast path follows (a bit per level in a number); deeper goes to the scanner. */
const DEPTH_MAX = 30;

const enum Key { Other, Id, Method, Result, Error }

/**
 * Set when a scan steps over a byte of 0x80 or more: only such a body needs the native
 * UTF-8 check (and the view it takes); an ASCII body is valid UTF-8.
 */
let sawHighByte = false;

function ws(b: Uint8Array, i: number, end: number): number {
  while (i < end) {
    const c = b[i];
    if (c !== 0x20 && c !== 0x0a && c !== 0x0d && c !== 0x09) break;
    i++;
  }
  return i;
}

/** Index of the quote closing the string whose text starts at i; -1 if it does not close. */
function stringEnd(b: Uint8Array, i: number, end: number): number {
  while (i < end) {
    const c = b[i];
    if (c === Json.Quote) return i;
    if (c >= 0x80) sawHighByte = true;
    if (c !== Json.Backslash) { i++; continue; }
    // The escaped byte is stepped over, but it may be the start of a bad UTF-8 sequence.
    if (i + 1 < end && b[i + 1] >= 0x80) sawHighByte = true;
    i += 2;
  }
  return -1;
}

/** Index after the nested value opening at i, brackets matched by kind; -1 if unsure. */
function nestedEnd(b: Uint8Array, i: number, end: number): number {
  // Bit d of `kinds` is 1 when level d opened with a brace.
  let kinds = 0;
  let depth = 0;
  while (i < end) {
    const c = b[i++];
    if (c === Json.Quote) {
      const q = stringEnd(b, i, end);
      if (q < 0) return -1;
      i = q + 1;
    } else if (c === Json.LBrace || c === Json.LBracket) {
      if (depth === DEPTH_MAX) return -1;
      kinds = c === Json.LBrace ? kinds | (1 << depth) : kinds & ~(1 << depth);
      depth++;
    } else if (c === Json.RBrace || c === Json.RBracket) {
      depth--;
      if (depth < 0 || ((kinds >> depth) & 1) !== (c === Json.RBrace ? 1 : 0)) return -1;
      if (depth === 0) return i;
    } else if (c >= 0x80) {
      sawHighByte = true;
    }
  }
  return -1;
}

/** The keys read, by Key; compared in one loop (see primitive() for why). */
const KEY_NAMES: readonly Buffer[] = ['', 'id', 'method', 'result', 'error'].map((k) => Buffer.from(k, 'latin1'));

function keyOf(b: Uint8Array, s: number, n: number): Key {
  for (let k = Key.Id; k <= Key.Error; k++) if (isAt(b, s, n, KEY_NAMES[k])) return k;
  return Key.Other;
}

/** b[s, s+n) holds exactly these bytes. */
function isAt(b: Uint8Array, s: number, n: number, bytes: Uint8Array): boolean {
  if (bytes.length !== n) return false;
  let i = 0;
  while (i < n && b[s + i] === bytes[i]) i++;
  return i === n;
}

const TRUE = Buffer.from('true', 'latin1');
const FALSE = Buffer.from('false', 'latin1');
const NULL = Buffer.from('null', 'latin1');

/**
 * A top-level primitive b[s,e): its value, or undefined when the fast path is unsure. The
 * literals are compared by the loop the keys use: code unrolled per literal would meet its
 * first `null` long after TurboFan compiled it, and a comparison never run before sends
 * the optimised code back to the interpreter (to be compiled again).
 */
function primitive(b: Buffer, s: number, e: number): unknown {
  const n = e - s;
  const c = b[s];
  if (isAt(b, s, n, NULL)) return null;
  if (isAt(b, s, n, TRUE)) return true;
  if (isAt(b, s, n, FALSE)) return false;
  // Plain integers (every id gopls and editors send); other numbers go to the scanner.
  if (n === 0 || n > 15 || (c === 0x30 && n > 1)) return undefined;
  let v = 0;
  for (let k = s; k < e; k++) {
    const d = b[k] - 0x30;
    if (d < 0 || d > 9) return undefined;
    v = v * 10 + d;
  }
  return v;
}

/**
 * Method names repeat: the last few are kept with their bytes, so a method seen before costs
 * a comparison instead of a decoded string (and its hash, which the maps keyed by method
 * then compute once). Slots are picked by length and two bytes; a clash just decodes.
 */
const METHOD_SLOTS = 64;
const METHOD_KEEP_MAX = 128;
const methodBytes: (Buffer | null)[] = new Array<Buffer | null>(METHOD_SLOTS).fill(null);
const methodText: string[] = new Array<string>(METHOD_SLOTS).fill('');

function methodOf(b: Buffer, s: number, e: number): string {
  const n = e - s;
  if (n === 0 || n > METHOD_KEEP_MAX) return b.toString('utf8', s, e);
  const slot = (n * 31 + b[s + (n >> 1)] * 7 + b[e - 1]) & (METHOD_SLOTS - 1);
  const kept = methodBytes[slot];
  if (kept !== null && kept.length === n) {
    let k = 0;
    while (k < n && kept[k] === b[s + k]) k++;
    if (k === n) return methodText[slot];
  }
  const text = b.toString('utf8', s, e);
  methodBytes[slot] = Buffer.from(b.subarray(s, e));
  methodText[slot] = text;
  return text;
}

/** Filled per body and handed to classify(), which keeps nothing of it. */
const fields: TopLevelFields = { hasMethod: false, method: undefined, hasId: false, id: undefined, hasResult: false, hasError: false, cancelId: undefined };

/** The fast path: the Identity of the body b[start,end), or null when it needs the scanner. */
export function identifyCommon(b: Buffer, start: number, end: number): Identity | null {
  sawHighByte = false;
  let i = ws(b, start, end);
  if (b[i] !== Json.LBrace) return null;
  i = ws(b, i + 1, end);
  let hasId = false; let id: unknown; let hasMethod = false; let method: unknown; let hasResult = false; let hasError = false;
  if (b[i] === Json.RBrace) i++;
  else {
    for (;;) {
      if (b[i] !== Json.Quote) return null;
      const ks = i + 1;
      let k = ks;
      while (k < end && b[k] !== Json.Quote) {
        if (b[k] === Json.Backslash) return null;
        if (b[k] >= 0x80) sawHighByte = true;
        k++;
      }
      if (k >= end) return null;
      const key = keyOf(b, ks, k - ks);
      i = ws(b, k + 1, end);
      if (b[i] !== Json.Colon) return null;
      i = ws(b, i + 1, end);
      const c = b[i];
      let value: unknown;
      if (c === Json.Quote) {
        const q = stringEnd(b, i + 1, end);
        if (q < 0) return null;
        if (key === Key.Id || key === Key.Method) {
          // An escape or a raw control character: the scanner decodes (or rejects) it.
          for (let k2 = i + 1; k2 < q; k2++) if (b[k2] === Json.Backslash || b[k2] < 0x20) return null;
          value = key === Key.Method ? methodOf(b, i + 1, q) : b.toString('utf8', i + 1, q);
        }
        i = q + 1;
      } else if (c === Json.LBrace || c === Json.LBracket) {
        if (key === Key.Id || key === Key.Method) return null;
        i = nestedEnd(b, i, end);
        if (i < 0) return null;
      } else {
        let e = i;
        while (e < end) {
          const d = b[e];
          if (d === Json.Comma || d === Json.RBrace || d === 0x20 || d === 0x0a || d === 0x0d || d === 0x09) break;
          e++;
        }
        value = primitive(b, i, e);
        if (value === undefined) return null;
        i = e;
      }
      switch (key) {
        case Key.Id: hasId = true; id = value; break;
        case Key.Method: hasMethod = true; method = value; break;
        case Key.Result: hasResult = true; break;
        case Key.Error: hasError = true; break;
        default: break;
      }
      i = ws(b, i, end);
      if (b[i] === Json.Comma) { i = ws(b, i + 1, end); continue; }
      if (b[i] === Json.RBrace) { i++; break; }
      return null;
    }
  }
  if (ws(b, i, end) !== end) return null;
  if (sawHighByte && !isUtf8(b.subarray(start, end))) return null;
  fields.hasMethod = hasMethod; fields.method = method;
  fields.hasId = hasId; fields.id = id;
  fields.hasResult = hasResult; fields.hasError = hasError;
  return classify(fields);
}

/** Identity of a whole small body b[start,end); scanner: the framer's, free to reset. */
export function identifySmall(b: Buffer, start: number, end: number, scanner: BodyScanner): Identity {
  let identity = identifyCommon(b, start, end);
  if (identity === null) {
    scanner.reset();
    scanner.feed(b, start, end);
    identity = scanner.finish();
  }
  if (identity.kind === 'notification' && identity.method === '$/cancelRequest') identity = identifyParsed(b.subarray(start, end)).identity;
  return identity;
}
