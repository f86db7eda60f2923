// A single-producer, single-consumer ring of records in shared memory: the relay thread
// copies each forwarded chunk (with its timestamps) in, the analysis thread reads them out
// in order. Copying a chunk is a memcpy; no message passing, no allocation per chunk on the
// relay's side. Control records (session start, log lines, end of stream) travel in the
// same ring so they stay in order with the bytes around them.
//
// Layout: `data` holds records at 8-byte-aligned positions; `ctl` holds the counters.
// head and tail count bytes ever written/consumed, modulo 2^32 (the capacity is a power of
// two, so positions stay consistent across the wrap). A record is a 32-byte header
//   u32 payloadBytes | u8 type | u8 dir | u16 0 | u32 session | u32 gapBytes | u64 readNs | u64 forwardedNs
// then the payload, padded to 8. A record never straddles the end: a WRAP header sends the
// reader back to position 0.
//
// Skipping (issue 27): inside the middle of a large body the analysis thread reads nothing
// but a count (body-scanner.ts's skim), so it offers, per direction, the stream offset up to
// which a session's bytes need not be copied; the relay then sends a chunk that lies wholly
// before it as a GAP record (its length in gapBytes; its payload, the chunk's stream offset
// as a float64, which the analysis thread checks) instead of copying it. The
// offer is one 64-bit word per direction in `ctl` (session << SKIP_OFFSET_BITS | offset),
// written and read whole with Atomics, so the relay never pairs one session's offset with
// another's number. An Int32 flag per direction (Ctl.SkipOffered) says whether an offer may
// stand: while none does, the relay's check of a chunk is one Int32 load, no BigInt.

export const enum RecordType { Chunk = 1, Control = 2, Gap = 3, Wrap = 0xff }

/** Indices into the control Int32Array. */
export const enum Ctl {
  Head = 0,
  Tail = 1,
  /** Bumped to wake the consumer (Atomics.wait/waitAsync on this slot). */
  WakeSeq = 2,
  /** 1 while the consumer waits (or is about to): the producer must notify. */
  ConsumerSleeping = 3,
  /** 1 while the producer holds records it could not fit: the consumer says when it frees space. */
  ProducerWaiting = 4,
  /** Set by the consumer when it has done everything up to a `fatal` record (sync exit path). */
  FatalDone = 5,
  /**
   * Per direction (+ dir), 1 while that direction's skip word may hold an offer: the relay
   * checks this Int32 before loading the BigInt64 word, so a chunk with no offer standing
   * (nearly every one) costs no BigInt.
   */
  SkipOffered = 6,
  Slots = 8,
}

/** Bits of a skip offer's stream offset (16 TiB); the session's number takes the rest, modulo 2^20. */
const SKIP_OFFSET_BITS = 44n;
const SKIP_OFFSET_MAX = 2 ** 44;
const SKIP_OFFSET_MASK = (1n << SKIP_OFFSET_BITS) - 1n;
const SKIP_SIDS = 2 ** 20;
/** The skip offers: a BigInt64 per direction after the Int32 slots. */
const SKIP_AT_BYTES = Ctl.Slots * 4;
const CTL_BYTES = SKIP_AT_BYTES + 2 * 8;

function skipWord(sid: number, offset: number): bigint {
  return (BigInt(sid % SKIP_SIDS) << SKIP_OFFSET_BITS) | BigInt(offset);
}

const HEADER_BYTES = 32;

export interface RingBuffers { data: SharedArrayBuffer; ctl: SharedArrayBuffer }

export function createRingBuffers(capacityBytes: number): RingBuffers {
  if (capacityBytes < 4096 || (capacityBytes & (capacityBytes - 1)) !== 0) throw new RangeError('ring capacity must be a power of two of at least 4096 bytes');
  return { data: new SharedArrayBuffer(capacityBytes), ctl: new SharedArrayBuffer(CTL_BYTES) };
}

const pad8 = (n: number): number => (n + 7) & ~7;

/** The largest payload one record may carry; bigger chunks are split by the writer. */
export const maxPayload = (capacityBytes: number): number => capacityBytes / 4;

export class ChunkRingWriter {
  private readonly bytes: Uint8Array;
  private readonly u32: Uint32Array;
  private readonly u64: BigUint64Array;
  private readonly ctl: Int32Array;
  private readonly skips: BigInt64Array;
  private readonly capacity: number;
  private readonly mask: number;
  readonly maxPayload: number;

  constructor(buffers: RingBuffers) {
    this.bytes = new Uint8Array(buffers.data);
    this.u32 = new Uint32Array(buffers.data);
    this.u64 = new BigUint64Array(buffers.data);
    this.ctl = new Int32Array(buffers.ctl, 0, Ctl.Slots);
    this.skips = new BigInt64Array(buffers.ctl, SKIP_AT_BYTES, 2);
    this.capacity = buffers.data.byteLength;
    this.mask = this.capacity - 1;
    this.maxPayload = maxPayload(this.capacity);
  }

  /**
   * Append one record; false when it does not fit now (the caller keeps it and retries).
   * payload.length must be at most maxPayload.
   */
  tryWrite(type: RecordType, dir: number, session: number, payload: Uint8Array, readNs: bigint, forwardedNs: bigint, gapBytes = 0): boolean {
    const need = HEADER_BYTES + pad8(payload.length);
    const head = Atomics.load(this.ctl, Ctl.Head) >>> 0;
    const tail = Atomics.load(this.ctl, Ctl.Tail) >>> 0;
    const free = this.capacity - ((head - tail) >>> 0);
    let pos = head & this.mask;
    const toEnd = this.capacity - pos;
    const wrap = toEnd < need;
    if ((wrap ? toEnd + need : need) > free) return false;
    let newHead = head;
    if (wrap) {
      this.u32[pos >> 2] = 0;
      this.bytes[pos + 4] = RecordType.Wrap;
      newHead = (newHead + toEnd) >>> 0;
      pos = 0;
    }
    const w = pos >> 2;
    this.u32[w] = payload.length;
    this.u32[w + 1] = type | (dir << 8);
    this.u32[w + 2] = session;
    this.u32[w + 3] = gapBytes;
    const q = pos >> 3;
    this.u64[q + 2] = readNs;
    this.u64[q + 3] = forwardedNs;
    this.bytes.set(payload, pos + HEADER_BYTES);
    // Publishing head is what makes the record visible; the stores above happen before it.
    Atomics.store(this.ctl, Ctl.Head, (newHead + need) | 0);
    return true;
  }

  /**
   * Whether session's chunk [offset, offset + length) in direction dir may go as a GAP
   * record: it ends at or before the offset the analysis thread offered. One atomic load.
   */
  maySkip(dir: number, session: number, offset: number, length: number): boolean {
    if (Atomics.load(this.ctl, Ctl.SkipOffered + dir) === 0) return false;
    const word = Atomics.load(this.skips, dir);
    if (word === 0n) return false;
    return offset + length <= Number(word & SKIP_OFFSET_MASK) && Number(word >> SKIP_OFFSET_BITS) === session % SKIP_SIDS;
  }

  /** Wake the consumer if it waits. Cheap when it is busy: one atomic load. */
  wake(): void {
    if (Atomics.load(this.ctl, Ctl.ConsumerSleeping) === 0) return;
    Atomics.store(this.ctl, Ctl.ConsumerSleeping, 0);
    Atomics.add(this.ctl, Ctl.WakeSeq, 1);
    Atomics.notify(this.ctl, Ctl.WakeSeq, 1);
  }

  set producerWaiting(on: boolean) { Atomics.store(this.ctl, Ctl.ProducerWaiting, on ? 1 : 0); }

  /** Synchronous exit path: wait (blocking this thread) until the consumer marks FatalDone. */
  waitFatalDone(timeoutMs: number): boolean {
    return Atomics.wait(this.ctl, Ctl.FatalDone, 0, timeoutMs) !== 'timed-out' || Atomics.load(this.ctl, Ctl.FatalDone) !== 0;
  }
}

/** One record as the reader hands it out; payload is a view valid only during the callback. */
export interface RingRecord {
  type: RecordType;
  dir: number;
  session: number;
  payload: Buffer;
  /** A GAP record's bytes: forwarded, not copied. */
  gapBytes: number;
  readNs: bigint;
  forwardedNs: bigint;
}

/** Where the analysis thread offers and takes back skips (the ring's reader). */
export interface SkipOffers {
  offerSkip(dir: number, session: number, until: number): void;
  withdrawSkip(dir: number, session: number, until: number): void;
}

export class ChunkRingReader implements SkipOffers {
  private readonly buf: Buffer;
  private readonly u32: Uint32Array;
  private readonly u64: BigUint64Array;
  private readonly ctl: Int32Array;
  private readonly mask: number;
  private readonly capacity: number;
  private readonly skips: BigInt64Array;
  private readonly rec: RingRecord = { type: RecordType.Chunk, dir: 0, session: 0, payload: Buffer.alloc(0), gapBytes: 0, readNs: 0n, forwardedNs: 0n };

  constructor(buffers: RingBuffers) {
    this.buf = Buffer.from(buffers.data);
    this.u32 = new Uint32Array(buffers.data);
    this.u64 = new BigUint64Array(buffers.data);
    this.ctl = new Int32Array(buffers.ctl, 0, Ctl.Slots);
    this.skips = new BigInt64Array(buffers.ctl, SKIP_AT_BYTES, 2);
    this.capacity = buffers.data.byteLength;
    this.mask = this.capacity - 1;
  }

  /**
   * Offer the relay to send session's bytes in direction dir as GAP records up to stream
   * offset `until` (exclusive): none of them will be read. Offsets past 16 TiB are not offered.
   */
  offerSkip(dir: number, session: number, until: number): void {
    if (until <= 0 || until >= SKIP_OFFSET_MAX) return;
    // The word before the flag: a relay that sees the flag finds the offer (or a newer one).
    Atomics.store(this.skips, dir, skipWord(session, until));
    Atomics.store(this.ctl, Ctl.SkipOffered + dir, 1);
  }

  /** Take back session's offer in direction dir (its body is done), unless another session's replaced it. */
  withdrawSkip(dir: number, session: number, until: number): void {
    if (until <= 0 || until >= SKIP_OFFSET_MAX) return;
    Atomics.compareExchange(this.skips, dir, skipWord(session, until), 0n);
    // Only this thread offers, so the flag follows the word: cleared once no offer stands.
    if (Atomics.load(this.skips, dir) === 0n) Atomics.store(this.ctl, Ctl.SkipOffered + dir, 0);
  }

  get empty(): boolean { return Atomics.load(this.ctl, Ctl.Head) === Atomics.load(this.ctl, Ctl.Tail); }

  /**
   * Hand out records in order until the ring is empty or maxBytes were consumed; space is
   * released after each record. Returns the bytes consumed.
   */
  read(onRecord: (rec: RingRecord) => void, maxBytes: number): number {
    let tail = Atomics.load(this.ctl, Ctl.Tail) >>> 0;
    const start = tail;
    const rec = this.rec;
    while (((tail - start) >>> 0) < maxBytes) {
      const head = Atomics.load(this.ctl, Ctl.Head) >>> 0;
      if (head === tail) break;
      const pos = tail & this.mask;
      const w = pos >> 2;
      const type = (this.u32[w + 1] & 0xff) as RecordType;
      if (type === RecordType.Wrap) {
        tail = (tail + (this.capacity - pos)) >>> 0;
        Atomics.store(this.ctl, Ctl.Tail, tail | 0);
        continue;
      }
      const len = this.u32[w];
      rec.type = type;
      rec.dir = (this.u32[w + 1] >> 8) & 0xff;
      rec.session = this.u32[w + 2];
      rec.gapBytes = this.u32[w + 3];
      const q = pos >> 3;
      rec.readNs = this.u64[q + 2];
      rec.forwardedNs = this.u64[q + 3];
      rec.payload = this.buf.subarray(pos + HEADER_BYTES, pos + HEADER_BYTES + len);
      onRecord(rec);
      tail = (tail + HEADER_BYTES + pad8(len)) >>> 0;
      Atomics.store(this.ctl, Ctl.Tail, tail | 0);
    }
    return (tail - start) >>> 0;
  }

  /** True (once) when the producer is holding records back: tell it there is room now. */
  takeProducerWaiting(): boolean { return Atomics.compareExchange(this.ctl, Ctl.ProducerWaiting, 1, 0) === 1; }

  /**
   * Announce that we are about to wait; returns the wake sequence to wait on, or null when
   * records arrived meanwhile (read again instead of waiting).
   */
  prepareWait(): number | null {
    const seq = Atomics.load(this.ctl, Ctl.WakeSeq);
    Atomics.store(this.ctl, Ctl.ConsumerSleeping, 1);
    if (!this.empty) { Atomics.store(this.ctl, Ctl.ConsumerSleeping, 0); return null; }
    return seq;
  }

  /** Resolves when the producer wakes us (or at once if it already did). */
  waitAsync(seq: number): Promise<unknown> | null {
    const r = Atomics.waitAsync(this.ctl, Ctl.WakeSeq, seq);
    return r.async ? r.value : null;
  }

  markFatalDone(): void {
    Atomics.store(this.ctl, Ctl.FatalDone, 1);
    Atomics.notify(this.ctl, Ctl.FatalDone);
  }
}
