// Pairs requests with responses. Each direction's requests live in their own table, since
// ids of the two directions are separate namespaces: a c2s request is answered by an s2c
// response and vice versa. The ids themselves are the keys: a Map compares keys by
// SameValueZero, which keeps 1 and "1" apart without building a key string per message.
//
// Eviction rule (docs/architecture.md "Decisions"): at most MAX_PENDING requests wait per direction, in a
// compact table (pending-table.ts: 1,000,000 in under 64 MB); beyond that the oldest is
// evicted. The first eviction is said once (`pending requests evicted`); a response that
// later matches nothing is taken for the answer to an evicted request (counted in
// `evictedAnswered`, no warn per message), so an answered request is never reported
// unanswered. A cancelled request stays until its response (LSP requires one) or eviction.
// Size rule: a string id longer than ID_MAX_CHARS is keyed by its SHA-256 plus its first
// ID_MAX_CHARS characters, and a method is kept to METHOD_MAX_CHARS, both copied out of the
// body's string, so a waiting request costs a bounded amount whatever its id (16 KB ids held
// 487 MB for 30k requests before).

import type { Direction, Frame, MessageId } from '../model/frame';
import type { MessageRecord } from '../model/record';
import { PendingTable, type PendingEntry } from './pending-table';

/** Requests that may wait per direction (a pipelined flood: 200,000 in flight is real). */
export const MAX_PENDING = 1_000_000;
/** Longer string ids are keyed by hash plus this many leading characters. */
export const ID_MAX_CHARS = 128;
/** Longer methods are kept (for the response's record) to this many characters. */
export const METHOD_MAX_CHARS = 256;
/** Waiting or evicted requests named in `session end`'s `unanswered`. */
export const UNANSWERED_LISTED = 100;

/** A request that got no answer (or none yet), for `session end`. */
export interface UnansweredEntry { dir: Direction; id: MessageId; method: string; cancelled: boolean; forwardedNs: bigint }

export interface PairingEvents {
  /** A request id arrived again while pending, or a response matched nothing. */
  onAnomaly: (dir: Direction, offset: number, reason: string, id: MessageId | null) => void;
  /** The first request evicted from direction dir's table (said once per session). */
  onFirstEviction: (dir: Direction, maxPending: number) => void;
}

/** A fresh flat copy of s's first n characters: a slice would keep the whole body string alive. */
function copyPrefix(s: string, n: number): string {
  return Buffer.from(s.slice(0, n), 'utf8').toString('utf8');
}

/** The table key: the id itself, or for a long string id a bounded stand-in no short id can equal (it starts with NUL and is longer than ID_MAX_CHARS). */
function keyOf(id: MessageId): MessageId {
  if (typeof id !== 'string' || id.length <= ID_MAX_CHARS) return id;
  // node:crypto is loaded here, on the first long id, not at every thread start (~4 ms).
  const { createHash } = require('node:crypto') as typeof import('node:crypto');
  return `\u0000${createHash('sha256').update(id).digest('base64')}\u0000${copyPrefix(id, ID_MAX_CHARS)}`;
}

/** The id as kept for `unanswered`: long ones shortened, saying so. */
function keptId(id: MessageId): MessageId {
  if (typeof id !== 'string' || id.length <= ID_MAX_CHARS) return id;
  return `${copyPrefix(id, ID_MAX_CHARS)}… (${id.length} chars)`;
}

function other(dir: Direction): Direction {
  return dir === 'c2s' ? 's2c' : 'c2s';
}

export class Pairing {
  private readonly pending: Record<Direction, PendingTable>;
  /** Long string ids as `unanswered` shows them, by table key (rare: only those over ID_MAX_CHARS). */
  private readonly longIds: Record<Direction, Map<MessageId, MessageId>> = { c2s: new Map(), s2c: new Map() };
  private readonly evictedFrom: Record<Direction, number> = { c2s: 0, s2c: 0 };
  private evictedAnsweredCount = 0;
  /** The first evicted requests, by direction and key, until their answer comes. */
  private readonly evictedSample: Record<Direction, Map<MessageId, UnansweredEntry>> = { c2s: new Map(), s2c: new Map() };

  constructor(private readonly events: PairingEvents, private readonly maxPending = MAX_PENDING) {
    this.pending = { c2s: new PendingTable(maxPending), s2c: new PendingTable(maxPending) };
  }

  /** Requests evicted unanswered to keep the table bounded. */
  get evicted(): number { return this.evictedFrom.c2s + this.evictedFrom.s2c; }

  /** Responses that matched nothing after evictions began: taken for answers to evicted requests. */
  get evictedAnswered(): number { return this.evictedAnsweredCount; }

  /** Requests never answered: still waiting, or evicted and not answered later. */
  get unansweredCount(): number {
    return this.pending.c2s.size + this.pending.s2c.size + Math.max(0, this.evicted - this.evictedAnsweredCount);
  }

  pendingCount(dir: Direction): number { return this.pending[dir].size; }

  /** Turn a frame into a record, updating the tables. */
  toRecord(frame: Frame): MessageRecord {
    const ident = frame.identity;
    const rec: MessageRecord = {
      dir: frame.dir, kind: ident.kind, method: ident.method, id: ident.id,
      bytes: frame.bodyBytes, headerBytes: frame.headerBytes, offset: frame.offset,
      firstByteNs: frame.firstByteNs, lastByteNs: frame.lastByteNs, forwardedNs: frame.forwardedNs, clock: 'js',
      isError: null, latencyMs: null, request: null, cancelled: false,
      cancelsId: ident.cancelId, invalidReason: ident.invalidReason, unmatched: false,
      body: frame.body, kernel: null,
    };
    if (ident.kind === 'request' && ident.id !== null && ident.method !== null) {
      const table = this.pending[frame.dir];
      const key = keyOf(ident.id);
      if (table.has(key)) {
        this.events.onAnomaly(frame.dir, frame.offset, 'request id reused while the earlier request is still pending', ident.id);
        table.take(key); // the new one goes last, for eviction order
      }
      if (key !== ident.id) this.longIds[frame.dir].set(key, keptId(ident.id));
      table.add(key, ident.method.length <= METHOD_MAX_CHARS ? ident.method : copyPrefix(ident.method, METHOD_MAX_CHARS), frame.offset, frame.offset + frame.headerBytes + frame.bodyBytes - 1, frame.forwardedNs);
      if (table.size > this.maxPending) this.evictOldest(frame.dir);
    } else if (ident.kind === 'response') {
      rec.isError = ident.isError;
      const reqDir = other(frame.dir);
      const key = ident.id === null ? null : keyOf(ident.id);
      const req = key === null ? undefined : this.pending[reqDir].take(key);
      if (req === undefined) {
        rec.unmatched = true;
        if (this.evictedFrom[reqDir] > 0) {
          // Most likely the answer to a request evicted earlier: counted, not warned one by one.
          this.evictedAnsweredCount++;
          if (key !== null) this.evictedSample[reqDir].delete(key);
        } else {
          this.events.onAnomaly(frame.dir, frame.offset, 'response to an id with no pending request', ident.id);
        }
      } else {
        if (key !== ident.id) this.longIds[reqDir].delete(req.key);
        rec.method = req.method;
        rec.cancelled = req.cancelled;
        rec.latencyMs = Number(frame.lastByteNs - req.forwardedNs) / 1e6;
        rec.request = { offset: req.offset, endOffset: req.endOffset, forwardedNs: req.forwardedNs };
      }
    } else if (ident.kind === 'notification' && ident.cancelId !== null) {
      // $/cancelRequest travels the same way as the request it cancels.
      this.pending[frame.dir].cancel(keyOf(ident.cancelId));
    }
    return rec;
  }

  /** Up to `max` requests never answered: those evicted first, then the waiting ones, oldest first. */
  unanswered(max = UNANSWERED_LISTED): UnansweredEntry[] {
    const out: UnansweredEntry[] = [];
    for (const dir of ['c2s', 's2c'] as const) for (const e of this.evictedSample[dir].values()) if (out.length < max) out.push(e);
    for (const dir of ['c2s', 's2c'] as const) {
      for (const e of this.pending[dir].entries()) {
        if (out.length >= max) return out;
        out.push(this.unansweredEntry(dir, e));
      }
    }
    return out;
  }

  private unansweredEntry(dir: Direction, e: PendingEntry): UnansweredEntry {
    return { dir, id: this.longIds[dir].get(e.key) ?? e.key, method: e.method, cancelled: e.cancelled, forwardedNs: e.forwardedNs };
  }

  private evictOldest(dir: Direction): void {
    const req = this.pending[dir].takeOldest();
    if (req === undefined) return;
    if (this.evicted === 0) this.events.onFirstEviction(dir, this.maxPending);
    this.evictedFrom[dir]++;
    const sample = this.evictedSample[dir];
    if (sample.size < UNANSWERED_LISTED) sample.set(req.key, this.unansweredEntry(dir, req));
    this.longIds[dir].delete(req.key);
  }
}
