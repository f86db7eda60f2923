// Pairs requests with responses. Each direction's requests live in their own table, since
// ids of the two directions are separate namespaces: a c2s request is answered by an s2c
// response and vice versa. The ids themselves are the keys: a Map compares keys by
// SameValueZero, which keeps 1 and "1" apart without building a key string per message.
//
// Eviction rule (docs/architecture.md "Decisions"): at most MAX_PENDING requests wait per direction;
// beyond that the oldest is evicted and counted as unanswered. A cancelled request stays
// until its response (LSP requires one) or eviction. Size rule: a string id longer than
// ID_MAX_CHARS is keyed by its SHA-256 plus its first ID_MAX_CHARS characters, and a method
// is kept to METHOD_MAX_CHARS, both copied out of the body's string, so a waiting request
// costs a bounded amount whatever its id (16 KB ids held 487 MB for 30k requests before).

import type { Direction, Frame, MessageId } from '../model/frame';
import type { MessageRecord } from '../model/record';

export const MAX_PENDING = 10_000;
/** Longer string ids are keyed by hash plus this many leading characters. */
export const ID_MAX_CHARS = 128;
/** Longer methods are kept (for the response's record) to this many characters. */
export const METHOD_MAX_CHARS = 256;

export interface PendingRequest {
  dir: Direction;
  id: MessageId;
  method: string;
  offset: number;
  bytes: number;
  headerBytes: number;
  lastByteNs: bigint;
  forwardedNs: bigint;
  cancelled: boolean;
}

export interface PairingEvents {
  /** A request id arrived again while pending, or a response matched nothing. */
  onAnomaly: (dir: Direction, offset: number, reason: string, id: MessageId | null) => void;
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
  private readonly pending: Record<Direction, Map<MessageId, PendingRequest>> = { c2s: new Map(), s2c: new Map() };
  private evictedCount = 0;
  private readonly evictedSample: PendingRequest[] = [];

  constructor(private readonly events: PairingEvents) {}

  get evicted(): number { return this.evictedCount; }

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
      if (table.get(key) !== undefined) {
        this.events.onAnomaly(frame.dir, frame.offset, 'request id reused while the earlier request is still pending', ident.id);
        table.delete(key); // the new one goes last, for eviction order
      }
      table.set(key, {
        dir: frame.dir, id: keptId(ident.id), method: ident.method.length <= METHOD_MAX_CHARS ? ident.method : copyPrefix(ident.method, METHOD_MAX_CHARS), offset: frame.offset, bytes: frame.bodyBytes,
        headerBytes: frame.headerBytes, lastByteNs: frame.lastByteNs, forwardedNs: frame.forwardedNs, cancelled: false,
      });
      if (table.size > MAX_PENDING) this.evictOldest(table);
    } else if (ident.kind === 'response') {
      rec.isError = ident.isError;
      const table = this.pending[other(frame.dir)];
      const key = ident.id === null ? null : keyOf(ident.id);
      const req = key === null ? undefined : table.get(key);
      if (req === undefined || key === null) {
        rec.unmatched = true;
        this.events.onAnomaly(frame.dir, frame.offset, 'response to an id with no pending request', ident.id);
      } else {
        table.delete(key);
        rec.method = req.method;
        rec.cancelled = req.cancelled;
        rec.latencyMs = Number(frame.lastByteNs - req.forwardedNs) / 1e6;
        rec.request = req; // out of the table now: nothing changes it any more
      }
    } else if (ident.kind === 'notification' && ident.cancelId !== null) {
      // $/cancelRequest travels the same way as the request it cancels.
      const req = this.pending[frame.dir].get(keyOf(ident.cancelId));
      if (req !== undefined) req.cancelled = true;
    }
    return rec;
  }

  /** Requests still waiting for an answer, oldest first, plus those evicted earlier. */
  unanswered(): PendingRequest[] {
    return [...this.evictedSample, ...this.pending.c2s.values(), ...this.pending.s2c.values()];
  }

  private evictOldest(table: Map<MessageId, PendingRequest>): void {
    const first = table.keys().next();
    if (first.done === true) return;
    const req = table.get(first.value);
    table.delete(first.value);
    this.evictedCount++;
    if (req !== undefined && this.evictedSample.length < 100) this.evictedSample.push(req);
  }
}
