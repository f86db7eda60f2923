// One direction's requests waiting for their response, stored compactly: a pipelined flood
// may hold hundreds of thousands in flight (200,000 through an echo server), and an object
// per request (nine fields, two bigints: ~200 B) made a cap of 10,000 necessary, which then
// called 187,143 answered requests unanswered (issue 24). Here a request is a slot in typed
// arrays (forward time, end offset, cancelled) plus a method reference, and the Map from id
// to slot: about 60 B per waiting request, so 1,000,000 fit in 64 MB.
//
// Layout per slot: fwdNs (Float64, ns after `baseNs`: exact for 104 days), endOffset
// (Float64, the request's last byte in its stream; for a free slot, the next free slot),
// span (Uint32, back to its first byte),
// cancelled (Uint8), method (Uint16: the index of an interned method name; each message
// brings its own copy of the string, 40 B a request). The Map keeps insertion order, which
// is the eviction order.

import type { MessageId } from '../model/frame';

/** Slots the arrays start with; they double up to the table's bound. */
const FIRST_SLOTS = 1024;
/** Method names interned per table; a request of any other method keeps its own string. */
const INTERNED_METHODS_MAX = 4096;
/** The method index of a request whose name is not interned (see `ownMethods`). */
const OWN_METHOD = 0xffff;
/** The end of the free list. */
const NO_SLOT = -1;

/** A request as the table hands it back. */
export interface PendingEntry { key: MessageId; method: string; offset: number; endOffset: number; forwardedNs: bigint; cancelled: boolean }

export class PendingTable {
  private readonly slotOf = new Map<MessageId, number>();
  private fwdNs = new Float64Array(FIRST_SLOTS);
  /** endOffset - offset: the message's length less one (a Content-Length fits 32 bits). */
  private span = new Uint32Array(FIRST_SLOTS);
  private endOffset = new Float64Array(FIRST_SLOTS);
  private cancelledAt = new Uint8Array(FIRST_SLOTS);
  private methodAt = new Uint16Array(FIRST_SLOTS);
  private readonly methodIndex = new Map<string, number>();
  private readonly methodNames: string[] = [];
  /** Methods of requests past INTERNED_METHODS_MAX distinct names, by slot. */
  private readonly ownMethods = new Map<number, string>();
  /** Free slots, linked through endOffset; and the first slot never used. */
  private freeHead = NO_SLOT;
  private nextUnused = 0;
  /** The forward time the stored ns count from (the first request's). */
  private baseNs: bigint | null = null;

  constructor(private readonly maxEntries: number) {}

  get size(): number { return this.slotOf.size; }

  has(key: MessageId): boolean { return this.slotOf.has(key); }

  /** Add a request (the caller removed any earlier one with this key and keeps size ≤ maxEntries + 1). */
  add(key: MessageId, method: string, offset: number, endOffset: number, forwardedNs: bigint): void {
    const slot = this.takeSlot();
    this.baseNs ??= forwardedNs;
    this.fwdNs[slot] = Number(forwardedNs - this.baseNs);
    this.span[slot] = endOffset - offset;
    this.endOffset[slot] = endOffset;
    this.cancelledAt[slot] = 0;
    let m = this.methodIndex.get(method);
    if (m === undefined && this.methodNames.length < INTERNED_METHODS_MAX) {
      m = this.methodNames.length;
      this.methodNames.push(method);
      this.methodIndex.set(method, m);
    }
    if (m === undefined) { this.methodAt[slot] = OWN_METHOD; this.ownMethods.set(slot, method); }
    else this.methodAt[slot] = m;
    this.slotOf.set(key, slot);
  }

  /** Mark a request cancelled; false when it is not waiting. */
  cancel(key: MessageId): boolean {
    const slot = this.slotOf.get(key);
    if (slot === undefined) return false;
    this.cancelledAt[slot] = 1;
    return true;
  }

  /** Take a request out; undefined when it is not waiting. */
  take(key: MessageId): PendingEntry | undefined {
    const slot = this.slotOf.get(key);
    if (slot === undefined) return undefined;
    this.slotOf.delete(key);
    return this.release(key, slot);
  }

  /** Take the oldest request out (eviction). */
  takeOldest(): PendingEntry | undefined {
    const first = this.slotOf.entries().next();
    if (first.done === true) return undefined;
    const [key, slot] = first.value;
    this.slotOf.delete(key);
    return this.release(key, slot);
  }

  /** The waiting requests, oldest first. */
  *entries(): IterableIterator<PendingEntry> {
    for (const [key, slot] of this.slotOf) yield this.entryAt(key, slot);
  }

  private entryAt(key: MessageId, slot: number): PendingEntry {
    const m = this.methodAt[slot];
    return {
      key, method: m === OWN_METHOD ? this.ownMethods.get(slot) ?? '' : this.methodNames[m], offset: this.endOffset[slot] - this.span[slot], endOffset: this.endOffset[slot],
      forwardedNs: (this.baseNs ?? 0n) + BigInt(this.fwdNs[slot]), cancelled: this.cancelledAt[slot] === 1,
    };
  }

  private release(key: MessageId, slot: number): PendingEntry {
    const e = this.entryAt(key, slot);
    if (this.methodAt[slot] === OWN_METHOD) this.ownMethods.delete(slot);
    this.endOffset[slot] = this.freeHead;
    this.freeHead = slot;
    return e;
  }

  private takeSlot(): number {
    if (this.freeHead !== NO_SLOT) {
      const slot = this.freeHead;
      this.freeHead = this.endOffset[slot];
      return slot;
    }
    if (this.nextUnused === this.fwdNs.length) this.grow();
    return this.nextUnused++;
  }

  private grow(): void {
    const n = Math.min(this.fwdNs.length * 2, Math.max(this.maxEntries + 1, FIRST_SLOTS));
    const f = new Float64Array(n); f.set(this.fwdNs); this.fwdNs = f;
    const sp = new Uint32Array(n); sp.set(this.span); this.span = sp;
    const o = new Float64Array(n); o.set(this.endOffset); this.endOffset = o;
    const c = new Uint8Array(n); c.set(this.cancelledAt); this.cancelledAt = c;
    const m = new Uint16Array(n); m.set(this.methodAt); this.methodAt = m;
  }
}
