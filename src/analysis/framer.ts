// Finds Content-Length frames in one direction's byte stream. It observes the chunks the
// relay has already forwarded: it never mutates them, never keeps them past push(), and
// never throws. Header rules follow vscode-jsonrpc: headers end at \r\n\r\n, lines are
// `key: value`, keys are case-insensitive, Content-Length is required, others are allowed.
//
// Resynchronisation (docs/architecture.md "Decisions"): when a header is unusable or a body is
// not JSON, framing is "lost"; the framer then searches for the next `Content-Length:`
// (any case) and restarts there. It searches first inside the bytes it still holds (the
// bad header, or a bad body of up to SMALL_BODY_MAX bytes, so a too-long Content-Length
// that swallowed the next header still recovers it), then in the bytes that follow.

import type { Direction, Frame, FrameWarning, Identity } from '../model/frame';
import { invalidIdentity } from './identity';
import { identifySmall } from './small-body';
import { BodyScanner } from './body-scanner';
import { TAIL_BYTES } from './skim-tail';

/** Bodies up to this size are copied once and read whole (small-body.ts); larger ones are scanned as they come. */
export const SMALL_BODY_MAX = 16 * 1024;
/** The largest first body kept for keepFirstBodies (an initialize request with every capability is ~10 KB). */
export const FIRST_BODY_MAX = 64 * 1024;
/** A header block longer than this is not a header. */
export const HEADER_MAX = 8 * 1024;

const CR = 0x0d;
const LF = 0x0a;
const PATTERN = Buffer.from('content-length:', 'latin1');
/** The header every client and server sends; read without making strings. */
const COMMON_HEADER = Buffer.from('Content-Length: ', 'latin1');

const enum Mode { Header, Body, Resync }

export interface FramerOptions {
  dir: Direction;
  /** Keep bodies up to this many bytes on the frame (for --bodies); 0 keeps none. */
  retainBodyMax: number;
  /**
   * Keep the bodies (up to FIRST_BODY_MAX bytes) of this many first frames whatever
   * retainBodyMax says: `initialize` and its response are among them (session-facts.ts).
   */
  keepFirstBodies?: number;
  onFrame: (frame: Frame) => void;
  onWarning: (warning: FrameWarning) => void;
  /**
   * The body being read is skimmed and not kept: its bytes before stream offset `until` may
   * come as lengths only (skip()) (on); the body is done, the offer ends (off).
   */
  onSkimmable?: (until: number, on: boolean) => void;
}

function preview(buf: Buffer, start: number, end: number): string {
  const max = 80;
  const s = buf.toString('latin1', start, Math.min(end, start + max));
  return end - start > max ? `${s}...` : s;
}

export class Framer {
  private readonly dir: Direction;
  private readonly retainBodyMax: number;
  private keepFirst: number;
  private readonly onFrame: (frame: Frame) => void;
  private readonly onWarning: (warning: FrameWarning) => void;
  private readonly onSkimmable: ((until: number, on: boolean) => void) | null;
  /** The offset offered to onSkimmable for the body being read; 0: none. */
  private skimUntil = 0;

  private mode = Mode.Header;
  /** Stream offset of the byte after everything pushed so far. */
  private streamPos = 0;

  /** One byte more than HEADER_MAX: the byte that overflows is kept for the resync search. */
  private readonly header = Buffer.alloc(HEADER_MAX + 1);
  private headerLen = 0;
  private crlfState = 0;
  private headerOffset = 0;
  private headerFirstNs = 0n;

  private bodyLen = 0;
  private bodyRemaining = 0;
  private readonly small = Buffer.alloc(SMALL_BODY_MAX);
  private readonly scanner = new BodyScanner();
  /** The body being kept for --bodies (null: not kept), filled to retainedLen. */
  private retained: Buffer | null = null;
  private retainedLen = 0;

  private patternIdx = 0;
  private resyncStart = 0;

  constructor(opts: FramerOptions) {
    this.dir = opts.dir;
    this.retainBodyMax = opts.retainBodyMax;
    this.keepFirst = opts.keepFirstBodies ?? 0;
    this.onFrame = opts.onFrame;
    this.onWarning = opts.onWarning;
    this.onSkimmable = opts.onSkimmable ?? null;
  }

  /** Total bytes seen on this stream. */
  get bytesSeen(): number { return this.streamPos; }

  /** True between a frame's first header byte and its last body byte. */
  get insideFrame(): boolean { return this.mode === Mode.Body || (this.mode === Mode.Header && this.headerLen > 0); }

  /** Observe one forwarded chunk. readNs: when it was read; forwardedNs: after it was written on. */
  push(chunk: Buffer, readNs: bigint, forwardedNs: bigint): void {
    this.consume(chunk, 0, chunk.length, this.streamPos, readNs, forwardedNs);
    this.streamPos += chunk.length;
  }

  /**
   * Bytes forwarded but not copied to this thread, from stream offset `offset`: the middle of
   * the skimmed body offered by onSkimmable. Throws if they fall anywhere else (a bug of
   * ours: the session's observer is then switched off, as for any observer failure).
   */
  skip(bytes: number, offset: number): void {
    if (this.skimUntil === 0 || this.mode !== Mode.Body || offset !== this.streamPos || offset + bytes > this.skimUntil) {
      throw new Error(`${this.dir}: ${bytes} uncopied bytes at offset ${offset}, but the framer is at ${this.streamPos} and offered skipping up to ${this.skimUntil}`);
    }
    this.scanner.skip(bytes);
    this.bodyRemaining -= bytes;
    this.streamPos += bytes;
  }

  /** The stream ended: report a frame cut short. */
  end(): void {
    if (this.mode === Mode.Body) {
      this.warn(this.headerOffset, `stream ended ${this.bodyLen - this.bodyRemaining} bytes into a body declared as ${this.bodyLen} bytes (Content-Length runs past the end of the stream)`, null);
    } else if (this.mode === Mode.Header && this.headerLen > 0) {
      this.warn(this.headerOffset, 'stream ended inside a header', preview(this.header, 0, this.headerLen));
    }
    if (this.skimUntil !== 0) {
      this.onSkimmable?.(this.skimUntil, false);
      this.skimUntil = 0;
    }
    this.mode = Mode.Header;
    this.headerLen = 0;
  }

  /** Process buf[start,end), whose byte buf[0] sits at stream offset base. */
  private consume(buf: Buffer, start: number, end: number, base: number, readNs: bigint, fwdNs: bigint): void {
    let i = start;
    while (i < end) {
      if (this.mode === Mode.Body) {
        const n = Math.min(this.bodyRemaining, end - i);
        if (n === this.bodyLen && n <= SMALL_BODY_MAX) {
          // A small body whole in this chunk (the usual case) is read where it is, not copied.
          this.retain(buf, i, i + n);
          this.bodyRemaining = 0;
          i += n;
          this.finishBody(readNs, fwdNs, buf, i - n, base);
          continue;
        }
        this.takeBody(buf, i, i + n);
        i += n;
        this.bodyRemaining -= n;
        if (this.bodyRemaining === 0) this.finishBody(readNs, fwdNs, this.small, 0, -1);
        continue;
      }
      if (this.mode === Mode.Resync) {
        i = this.findPattern(buf, i, end, base, readNs);
        continue;
      }
      // Header mode: byte state machine for \r\n\r\n, as vscode-jsonrpc's message buffer.
      if (this.headerLen === 0) {
        this.headerOffset = base + i;
        this.headerFirstNs = readNs;
        this.crlfState = 0;
      }
      while (i < end) {
        const c = buf[i++];
        this.header[this.headerLen] = c; // headerLen <= HEADER_MAX here: overflow ends the header
        this.headerLen++;
        if (c === CR) this.crlfState = this.crlfState === 0 ? 1 : this.crlfState === 2 ? 3 : 1;
        else if (c === LF) this.crlfState = this.crlfState === 1 ? 2 : this.crlfState === 3 ? 4 : 0;
        else this.crlfState = 0;
        if (this.crlfState === 4) {
          this.finishHeader(readNs, fwdNs);
          break;
        }
        if (this.headerLen > HEADER_MAX) {
          this.lostInHeader(`header exceeds ${HEADER_MAX} bytes without an empty line`, preview(this.header, 0, 40)); 
          break;
        }
      }
    }
  }

  /**
   * The length in a header that is exactly `Content-Length: DIGITS` (1 to 15 digits), read
   * from the bytes; -1 for any other header, which then takes the general path.
   */
  private commonHeaderLength(): number {
    const end = this.headerLen - 4;
    const digitsAt = COMMON_HEADER.length;
    if (end <= digitsAt || end - digitsAt > 15) return -1;
    for (let k = 0; k < digitsAt; k++) if (this.header[k] !== COMMON_HEADER[k]) return -1;
    let n = 0;
    for (let k = digitsAt; k < end; k++) {
      const d = this.header[k] - 0x30;
      if (d < 0 || d > 9) return -1;
      n = n * 10 + d;
    }
    return n;
  }

  private finishHeader(readNs: bigint, fwdNs: bigint): void {
    const common = this.commonHeaderLength();
    if (common >= 0) { this.startBody(common, readNs, fwdNs); return; }
    const text = this.header.toString('latin1', 0, this.headerLen - 4);
    let length = -1;
    for (const line of text.split('\r\n')) {
      const colon = line.indexOf(':');
      if (colon < 0) { this.lostInHeader('header line without a colon', line.slice(0, 80)); return; }
      // The key is not trimmed, as in vscode-jsonrpc, which rejects ' Content-Length'. (Go's
      // jsonrpc2 trims the whole line first and accepts it; lsptap then warns and resyncs
      // on the Content-Length inside, so the message is still logged.)
      const key = line.slice(0, colon).toLowerCase();
      if (key !== 'content-length') continue;
      const value = line.slice(colon + 1).trim();
      if (!/^\d{1,15}$/.test(value)) { this.lostInHeader('Content-Length is not a number', value.slice(0, 80)); return; }
      length = Number(value);
    }
    if (length < 0) { this.lostInHeader('header has no Content-Length', text.slice(0, 80)); return; }
    this.startBody(length, readNs, fwdNs);
  }

  private startBody(length: number, readNs: bigint, fwdNs: bigint): void {
    this.bodyLen = length;
    this.bodyRemaining = length;
    this.scanner.reset(length);
    const cap = this.keepFirst > 0 ? Math.max(this.retainBodyMax, FIRST_BODY_MAX) : this.retainBodyMax;
    this.retained = length > 0 && length <= cap ? Buffer.allocUnsafe(length) : null;
    this.retainedLen = 0;
    this.mode = Mode.Body;
    if (length === 0) this.finishBody(readNs, fwdNs, this.small, 0, -1);
  }

  private takeBody(buf: Buffer, from: number, to: number): void {
    if (from >= to) return;
    const done = this.bodyLen - this.bodyRemaining;
    if (this.bodyLen <= SMALL_BODY_MAX) buf.copy(this.small, done, from, to);
    else {
      this.scanner.feed(buf, from, to);
      if (this.skimUntil === 0 && this.onSkimmable !== null && this.retained === null && this.scanner.skimming) {
        // All but the tail the scanner reads its last members from.
        this.skimUntil = this.headerOffset + this.headerLen + this.bodyLen - TAIL_BYTES;
        this.onSkimmable(this.skimUntil, true);
      }
    }
    this.retain(buf, from, to);
  }

  /**
   * Copy body bytes kept for --bodies. A copy, not a view: the chunks come from the
   * analysis thread's shared ring, whose space is written again once read, while a body
   * spans many chunks and its record may wait in the kernel stage.
   */
  private retain(buf: Buffer, from: number, to: number): void {
    if (this.retained === null) return;
    buf.copy(this.retained, this.retainedLen, from, to);
    this.retainedLen += to - from;
  }

  /**
   * The body is complete. A small one is src[srcStart, srcStart + bodyLen): the framer's
   * copy, or (srcBase >= 0) the chunk itself, whose byte 0 sits at stream offset srcBase.
   */
  private finishBody(readNs: bigint, fwdNs: bigint, src: Buffer, srcStart: number, srcBase: number): void {
    let identity: Identity;
    if (this.bodyLen === 0) identity = invalidIdentity('body is empty (Content-Length: 0)');
    else if (this.bodyLen <= SMALL_BODY_MAX) identity = identifySmall(src, srcStart, srcStart + this.bodyLen, this.scanner);
    else identity = this.scanner.finish();
    if (this.skimUntil !== 0) {
      this.onSkimmable?.(this.skimUntil, false);
      this.skimUntil = 0;
    }
    const body = this.retained;
    this.retained = null;
    this.retainedLen = 0;
    if (this.keepFirst > 0) this.keepFirst--;
    const headerBytes = this.headerLen;
    const offset = this.headerOffset;
    const bodyOffset = offset + headerBytes;
    this.headerLen = 0;
    this.mode = Mode.Header;
    this.onFrame({
      dir: this.dir, offset, headerBytes, bodyBytes: this.bodyLen,
      firstByteNs: this.headerFirstNs, lastByteNs: readNs, forwardedNs: fwdNs,
      identity, body,
    });
    if (identity.kind === 'invalid' && identity.invalidReason !== null && identity.invalidReason.startsWith('body is not JSON')) {
      // A body that is not JSON at all suggests a wrong Content-Length: framing is lost.
      this.warn(offset, identity.invalidReason, null);
      this.startResync();
      if (this.bodyLen <= SMALL_BODY_MAX && this.bodyLen > 0) {
        if (srcBase >= 0) {
          this.consume(src, srcStart, srcStart + this.bodyLen, srcBase, readNs, fwdNs);
        } else {
          // A copy: the framer's buffer takes the next small body while these bytes are read.
          const copy = Buffer.from(this.small.subarray(0, this.bodyLen));
          this.consume(copy, 0, copy.length, bodyOffset, readNs, fwdNs);
        }
      }
    } else if (identity.kind === 'invalid') {
      this.warn(offset, identity.invalidReason ?? 'invalid message', null);
    }
  }

  /** An unusable header: warn once, then resync starting after its first byte. */
  private lostInHeader(reason: string, seen: string): void {
    this.warn(this.headerOffset, reason, seen);
    // Every byte of the header so far is held (up to HEADER_MAX + 1), so a `Content-Length:`
    // straddling the overflow point is still found.
    const copy = Buffer.from(this.header.subarray(1, this.headerLen));
    const copyBase = this.headerOffset + 1;
    this.headerLen = 0;
    this.startResync();
    this.consume(copy, 0, copy.length, copyBase, this.headerFirstNs, this.headerFirstNs);
  }

  private startResync(): void {
    this.mode = Mode.Resync;
    this.patternIdx = 0;
    this.headerLen = 0;
  }

  /** Resync mode: look for `content-length:` in any case; on a match, restart the header there. */
  private findPattern(buf: Buffer, i: number, end: number, base: number, readNs: bigint): number {
    while (i < end) {
      const c = buf[i++];
      const lower = c >= 0x41 && c <= 0x5a ? c | 0x20 : c;
      if (lower === PATTERN[this.patternIdx]) {
        if (this.patternIdx === 0) this.resyncStart = base + i - 1;
        this.patternIdx++;
        if (this.patternIdx === PATTERN.length) {
          // Seed the header with the matched name; the rest of the line follows in the stream.
          this.mode = Mode.Header;
          PATTERN.copy(this.header, 0);
          this.headerLen = PATTERN.length;
          this.headerOffset = this.resyncStart;
          this.headerFirstNs = readNs;
          this.crlfState = 0;
          this.patternIdx = 0;
          return i;
        }
      } else {
        // 'c' occurs once in the pattern, so restarting is exact (no partial overlap).
        this.patternIdx = lower === PATTERN[0] ? 1 : 0;
        if (this.patternIdx === 1) this.resyncStart = base + i - 1;
      }
    }
    return i;
  }

  private warn(offset: number, reason: string, seen: string | null): void {
    this.onWarning({ dir: this.dir, offset, reason, seen });
  }
}
