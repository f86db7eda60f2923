// Writes the `message` line of one record as bytes, straight into the line batch's arena:
// the line pino's logger.info(fields, 'message') would write (its level prefix, its clock,
// the child's pre-serialised bindings, then the fields in the order of docs/log-format.md),
// byte for byte, and in order with every other line since both go through the same batch.
// Why not pino's own path: its generic serialiser looks up serializers and escapes every
// key on every line (23% of the analysis thread's CPU), and a line built as a string is
// then encoded into bytes; here constant pieces are bytes made once, numbers are written
// digit by digit, and strings that repeat (methods) are escaped and encoded once.
// It reads pino's internals (lsCacheSym, chindingsSym, timeSym), so package.json pins pino to
// the exact version whose bytes test/message-line.test.ts compares against; upgrade both together.

import pino from 'pino';
import type { Direction, MessageId, MessageKind } from '../model/frame';
import type { MessageRecord } from '../model/record';
import type { LineBatch } from './line-batch';

const ascii = (s: string): Buffer => Buffer.from(s, 'latin1');

const KINDS: readonly MessageKind[] = ['request', 'response', 'notification', 'invalid'];
const dirKind = (dir: Direction): Buffer[] => KINDS.map((kind) => ascii(`,"dir":"${dir}","kind":"${kind}","method":`));
const C2S = dirKind('c2s');
const S2C = dirKind('s2c');
const kindIndex = (kind: MessageKind): number => (kind === 'request' ? 0 : kind === 'response' ? 1 : kind === 'notification' ? 2 : 3);
const K_ID = ascii(',"id":');
const K_BYTES = ascii(',"bytes":');
const K_HEADER_BYTES = ascii(',"headerBytes":');
const K_OFFSET = ascii(',"offset":');
const K_FIRST = ascii(',"firstByteMs":');
const K_LAST = ascii(',"lastByteMs":');
const K_FORWARDED = ascii(',"forwardedMs":');
const CLOCK_JS = ascii(',"clock":"js"');
const CLOCK_KERNEL = ascii(',"clock":"kernel"');
const IS_ERROR_TRUE = ascii(',"isError":true');
const IS_ERROR_FALSE = ascii(',"isError":false');
const IS_ERROR_NULL = ascii(',"isError":null');
const K_LATENCY = ascii(',"latencyMs":');
const UNMATCHED = ascii(',"unmatched":true');
const CANCELLED = ascii(',"cancelled":true');
const K_CANCELS_ID = ascii(',"cancelsId":');
const K_REASON = ascii(',"reason":');
const K_KERNEL = ascii(',"kernel":');
const K_BODY = ascii(',"body":');
const K_TIME = ascii(',"time":');
const NULL = ascii('null');
const END = ascii(',"msg":"message"}\n');

/**
 * More bytes than a line takes besides its strings, ids, level prefix, bindings and clock:
 * the pieces above (about 300) and seven numbers of at most 24 characters. write() adds the
 * rest to reserve room for a line before writing it.
 */
const FIXED_MAX = 1024;

/** Bytes of one string's JSON text at most: an escape is 6 per UTF-16 unit, UTF-8 is at most 3. */
const jsonMax = (s: string): number => s.length * 6 + 2;

function put(buf: Buffer, pos: number, src: Uint8Array): number {
  const n = src.length;
  // Short pieces: a loop beats a call into the runtime (about 20 bytes break even here).
  if (n > 16) { buf.set(src, pos); return pos + n; }
  for (let i = 0; i < n; i++) buf[pos + i] = src[i];
  return pos + n;
}

/** Text as UTF-8 (its JSON escapes already made). */
function putText(buf: Buffer, pos: number, s: string): number {
  const n = s.length;
  if (n <= 48) {
    let i = 0;
    for (; i < n; i++) {
      const c = s.charCodeAt(i);
      if (c >= 0x80) break;
      buf[pos + i] = c;
    }
    if (i === n) return pos + n;
  }
  return pos + buf.write(s, pos, 'utf8');
}

/**
 * 0 <= v < 2^31 in decimal; int32 arithmetic (a division by 10 is a multiplication). The
 * digits are counted in a loop, not a chain of comparisons: a comparison first reached when
 * the numbers grow (an offset past 10^6) would send the optimised code back to the
 * interpreter and TurboFan would compile it again.
 */
function putInt32(buf: Buffer, pos: number, v: number): number {
  let digits = 1;
  for (let t = v; t >= 10; t = (t / 10) | 0) digits++;
  let p = pos + digits;
  do {
    const q = (v / 10) | 0;
    buf[--p] = 0x30 + v - q * 10;
    v = q;
  } while (v !== 0);
  return pos + digits;
}

/** A non-negative safe integer in decimal. */
function putUint(buf: Buffer, pos: number, n: number): number {
  if (n <= 0x7fffffff) return putInt32(buf, pos, n | 0);
  const high = Math.floor(n / 1e8);
  pos = putUint(buf, pos, high);
  let v = (n - high * 1e8) | 0;
  for (let p = pos + 7; p >= pos; p--) {
    const q = (v / 10) | 0;
    buf[p] = 0x30 + v - q * 10;
    v = q;
  }
  return pos + 8;
}

/** A number as the log writes any: String(), or null when not finite. */
const numberText = (v: number): string => (Number.isFinite(v) ? String(v) : 'null');

function putNumber(buf: Buffer, pos: number, v: number): number {
  if (Number.isSafeInteger(v) && v >= 0) return putUint(buf, pos, v);
  return putText(buf, pos, numberText(v));
}

/**
 * us / 1000 as String() writes it, for a whole number of µs: the shortest decimal that
 * reads back as the same double is the exact one up to 15 significant digits (any decimal
 * of at most 15 digits survives a round trip through a double), so digits, a point and
 * the fraction without trailing zeros. Beyond that, String() itself.
 */
function putMs(buf: Buffer, pos: number, us: number): number {
  if (!Number.isSafeInteger(us) || us >= 1e15 || us <= -1e15) return putText(buf, pos, numberText(us / 1e3));
  if (us < 0) { buf[pos++] = 0x2d; us = -us; }
  const whole = Math.floor(us / 1000);
  const frac = (us - whole * 1000) | 0;
  pos = putUint(buf, pos, whole);
  if (frac === 0) return pos;
  buf[pos++] = 0x2e;
  const d1 = (frac / 100) | 0;
  buf[pos++] = 0x30 + d1;
  const rest = frac - d1 * 100;
  if (rest === 0) return pos;
  const d2 = (rest / 10) | 0;
  buf[pos++] = 0x30 + d2;
  const d3 = rest - d2 * 10;
  if (d3 === 0) return pos;
  buf[pos++] = 0x30 + d3;
  return pos;
}

/** JSON text of a string that repeats (a reason): escaped and encoded once, short ones only. */
const CACHE_MAX = 4096;
const quoted = new Map<string, Buffer>();
function putString(buf: Buffer, pos: number, s: string): number {
  let q = quoted.get(s);
  if (q === undefined) {
    if (quoted.size >= CACHE_MAX || s.length >= 128) return putText(buf, pos, JSON.stringify(s));
    q = Buffer.from(JSON.stringify(s), 'utf8');
    quoted.set(s, q);
  }
  return put(buf, pos, q);
}

/**
 * A line's bytes from `,"dir":` to `,"id":`, by direction and kind, then method: the same for
 * every message of a method, made once (bounded, short methods only).
 */
const openings: Map<string, Buffer>[] = [...C2S, ...S2C].map(() => new Map<string, Buffer>());
let openingCount = 0;
function putOpening(buf: Buffer, pos: number, dir: Direction, kind: MessageKind, method: string | null): number {
  const k = kindIndex(kind);
  const dirKind = (dir === 'c2s' ? C2S : S2C)[k];
  if (method === null) return put(buf, put(buf, put(buf, pos, dirKind), NULL), K_ID);
  const table = openings[(dir === 'c2s' ? 0 : 4) + k];
  let o = table.get(method);
  if (o === undefined) {
    if (openingCount >= CACHE_MAX || method.length >= 128) return put(buf, putText(buf, put(buf, pos, dirKind), JSON.stringify(method)), K_ID);
    o = Buffer.concat([dirKind, Buffer.from(JSON.stringify(method), 'utf8'), K_ID]);
    table.set(method, o);
    openingCount++;
  }
  return put(buf, pos, o);
}

function putId(buf: Buffer, pos: number, id: MessageId | null): number {
  if (id === null) return put(buf, pos, NULL);
  if (typeof id === 'number') return putNumber(buf, pos, id);
  return putText(buf, pos, JSON.stringify(id));
}

const idMax = (id: MessageId | null): number => (typeof id === 'string' ? jsonMax(id) : 24);

/**
 * The fields most lines lack, after the common ones. A function of their own, called for
 * every line: a branch first taken long after write() was optimised (the first cancelled
 * request) then sends only this one back to the interpreter, not all of write().
 */
function putOptional(buf: Buffer, p: number, rec: MessageRecord, kernel: string | null, body: string | null): number {
  if (rec.unmatched && rec.kind === 'response') p = put(buf, p, UNMATCHED);
  if (rec.cancelled) p = put(buf, p, CANCELLED);
  if (rec.cancelsId !== null) { p = put(buf, p, K_CANCELS_ID); p = putId(buf, p, rec.cancelsId); }
  if (rec.invalidReason !== null) { p = put(buf, p, K_REASON); p = putString(buf, p, rec.invalidReason); }
  if (kernel !== null) { p = put(buf, p, K_KERNEL); p = putText(buf, p, kernel); }
  if (body !== null) { p = put(buf, p, K_BODY); p = putText(buf, p, body); }
  return p;
}

export class MessageLineWriter {
  private readonly head: Buffer;
  private readonly bindings: Buffer;
  private readonly time: () => string;
  /** pino's default clock (`,"time":` and Date.now()): the line's start is remade once per ms. */
  private readonly epochTime: boolean;
  private startMs = -1;
  private start: Buffer = Buffer.alloc(0);
  /** What the line before wrote where in the batch (its generation), to copy what repeats. */
  private memoGeneration = -1;
  private memoBytes = -1;
  private memoHeaderBytes = -1;
  private sizesAt = 0;
  private sizesEnd = 0;
  private memoFirstNs = -1n;
  private memoLastNs = -1n;
  private memoForwardedNs = -1n;
  private memoClock = '';
  private memoStartNs = 0;
  private timesAt = 0;
  private timesEnd = 0;
  readonly enabled: boolean;

  constructor(logger: pino.Logger, private readonly batch: LineBatch, private readonly withBodies: boolean) {
    const l = logger as unknown as Record<symbol, unknown>;
    const lsCache = l[pino.symbols.lsCacheSym] as Record<number, string>;
    this.head = Buffer.from(lsCache[pino.levels.values.info], 'utf8');
    this.bindings = Buffer.from(l[pino.symbols.chindingsSym] as string, 'utf8');
    this.time = l[pino.symbols.timeSym] as () => string;
    this.epochTime = this.time === pino.stdTimeFunctions.epochTime;
    this.enabled = logger.isLevelEnabled('info');
  }

  /** Write rec's line; startNs: the session's hrtime origin, for the `*Ms` offsets. */
  write(rec: MessageRecord, startNs: number): void {
    if (!this.enabled) return;
    const time = this.epochTime ? null : this.time();
    const kernel = rec.kernel !== null ? JSON.stringify(rec.kernel) : null;
    const body = this.withBodies && rec.body !== null ? JSON.stringify(rec.body.toString('utf8')) : null;
    const max = FIXED_MAX + this.head.length + this.bindings.length + (time === null ? 0 : time.length * 3)
      + (rec.method === null ? 0 : jsonMax(rec.method)) + idMax(rec.id) + idMax(rec.cancelsId)
      + (rec.invalidReason === null ? 0 : jsonMax(rec.invalidReason))
      + (kernel === null ? 0 : kernel.length * 3) + (body === null ? 0 : body.length * 3);
    const inBatch = this.batch.reserve(max);
    const buf = inBatch ? this.batch.arena : Buffer.allocUnsafe(max);
    let p = inBatch ? this.batch.position : 0;

    if (time === null) p = put(buf, p, this.lineStart(Date.now()));
    else p = put(buf, putText(buf, put(buf, p, this.head), time), this.bindings);
    p = putOpening(buf, p, rec.dir, rec.kind, rec.method);
    p = putId(buf, p, rec.id);
    // The sizes and the three times repeat from line to line in a burst (the messages of
    // one chunk share its read and write times): copied from the line before when equal.
    const memo = inBatch && this.memoGeneration === this.batch.generation;
    if (memo && rec.bytes === this.memoBytes && rec.headerBytes === this.memoHeaderBytes) {
      buf.copyWithin(p, this.sizesAt, this.sizesEnd);
      p += this.sizesEnd - this.sizesAt;
    } else {
      const at = p;
      p = put(buf, p, K_BYTES);
      p = putNumber(buf, p, rec.bytes);
      p = put(buf, p, K_HEADER_BYTES);
      p = putNumber(buf, p, rec.headerBytes);
      p = put(buf, p, K_OFFSET);
      this.memoBytes = rec.bytes; this.memoHeaderBytes = rec.headerBytes; this.sizesAt = at; this.sizesEnd = p;
    }
    p = putNumber(buf, p, rec.offset);
    if (memo && rec.firstByteNs === this.memoFirstNs && rec.lastByteNs === this.memoLastNs && rec.forwardedNs === this.memoForwardedNs && rec.clock === this.memoClock && startNs === this.memoStartNs) {
      buf.copyWithin(p, this.timesAt, this.timesEnd);
      p += this.timesEnd - this.timesAt;
    } else {
      const at = p;
      // Number(ns) rounds only past 2^53 ns (104 days of hrtime) and then by a few ns: far
      // below the µs kept here, and no BigInt is allocated per field.
      p = put(buf, p, K_FIRST);
      p = putMs(buf, p, Math.round((Number(rec.firstByteNs) - startNs) / 1e3));
      p = put(buf, p, K_LAST);
      p = putMs(buf, p, Math.round((Number(rec.lastByteNs) - startNs) / 1e3));
      p = put(buf, p, K_FORWARDED);
      p = putMs(buf, p, Math.round((Number(rec.forwardedNs) - startNs) / 1e3));
      p = put(buf, p, rec.clock === 'js' ? CLOCK_JS : CLOCK_KERNEL);
      this.memoFirstNs = rec.firstByteNs; this.memoLastNs = rec.lastByteNs; this.memoForwardedNs = rec.forwardedNs;
      this.memoClock = rec.clock; this.memoStartNs = startNs; this.timesAt = at; this.timesEnd = p;
    }
    this.memoGeneration = inBatch ? this.batch.generation : -1; // a line outside the batch leaves nothing to copy
    if (rec.kind === 'response') {
      p = put(buf, p, rec.isError === null ? IS_ERROR_NULL : rec.isError ? IS_ERROR_TRUE : IS_ERROR_FALSE);
      p = put(buf, p, K_LATENCY);
      p = rec.latencyMs === null ? put(buf, p, NULL) : putMs(buf, p, Math.round(rec.latencyMs * 1000));
    }
    p = putOptional(buf, p, rec, kernel, body);
    p = put(buf, p, END);

    if (inBatch) this.batch.commit(p);
    else this.batch.writeBytes(buf.subarray(0, p));
  }

  /** `{"level":30,"time":MS` and the bindings: what every line of this millisecond starts with. */
  private lineStart(ms: number): Buffer {
    if (ms !== this.startMs) {
      this.startMs = ms;
      this.start = Buffer.concat([this.head, K_TIME, Buffer.from(String(ms), 'latin1'), this.bindings]);
    }
    return this.start;
  }
}
