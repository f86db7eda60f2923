// Reads a BPF_MAP_TYPE_RINGBUF from JavaScript: the map's pages are mmap'ed once and
// wrapped in Buffers (no copy), and records are read with Atomics on the producer and
// consumer positions, as libbpf's ringbuf_process_ring does in C. No FFI call per drain or
// per record.
//
// Why not libbpf's ring_buffer__new with a JS callback: ffi-rs queues each callback to the
// event loop (about 3.5 µs an event, unbounded) and events waited 140-240 ms under load.
//
// Layout (kernel/bpf/ringbuf.c): page 0 holds consumer_pos (read-write); page 1 holds
// producer_pos; then the data area, mapped twice back to back so that a record crossing the
// end reads contiguously. Each record: u32 len (bit 31 busy, bit 30 discarded), u32 page
// offset, then the sample; records are 8-byte aligned.

import { nativeCalls, bufferAt, isMapFailed, PROT_READ, PROT_WRITE, MAP_SHARED, SC_PAGESIZE, type Pointer } from './native';
import { recordBytesOf, type RecordBytes } from './event-layout';

const BUSY_BIT = 0x80000000;
const DISCARD_BIT = 0x40000000;
const HEADER_BYTES = 8;
/** Free space under which the ring counts as full: more than any record lsptap's programs submit. */
const FULL_MARGIN = 1024;

/** Called with the data area and the sample's byte offset and length in it. */
export type RecordHandler = (data: RecordBytes, offset: number, length: number) => void;

export class RingReader {
  private readonly consumerMap: Pointer;
  private readonly producerMap: Pointer;
  private readonly consumerBytes: number;
  private readonly producerBytes: number;
  private readonly consumerPos: BigUint64Array;
  /** producer_pos as two u32 words (low, high): read without a BigInt per drain. */
  private readonly producerWords: Uint32Array;
  /** The data area (both mappings), as bytes and as u32 words (records are 8-byte aligned). */
  private readonly data: RecordBytes;
  private readonly dataWords: Int32Array;
  private readonly mask: number;
  private cons: number;
  private closed = false;
  /** Records read so far. */
  records = 0;

  /** fd: the ring buffer map's fd; sizeBytes: its max_entries (a power of two of pages). */
  constructor(fd: number, readonly sizeBytes: number) {
    const n = nativeCalls();
    const page = n.sysconf(SC_PAGESIZE).value;
    this.consumerBytes = page;
    this.producerBytes = page + 2 * sizeBytes;
    const c = n.mmap(0, this.consumerBytes, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    if (isMapFailed(c.value)) throw new Error(`mmap of the ring buffer's consumer page failed: ${c.errnoMessage}`);
    const p = n.mmap(0, this.producerBytes, PROT_READ, MAP_SHARED, fd, page);
    if (isMapFailed(p.value)) {
      n.munmap(c.value, this.consumerBytes);
      throw new Error(`mmap of the ring buffer's data pages failed: ${p.errnoMessage}`);
    }
    this.consumerMap = c.value;
    this.producerMap = p.value;
    const cbuf = bufferAt(c.value, this.consumerBytes);
    const pbuf = bufferAt(p.value, this.producerBytes);
    this.consumerPos = new BigUint64Array(cbuf.buffer, cbuf.byteOffset, 1);
    this.producerWords = new Uint32Array(pbuf.buffer, pbuf.byteOffset, 2);
    this.data = recordBytesOf(pbuf.subarray(page));
    this.dataWords = new Int32Array(pbuf.buffer, pbuf.byteOffset + page, (2 * sizeBytes) >> 2);
    this.mask = sizeBytes - 1;
    this.cons = Number(Atomics.load(this.consumerPos, 0));
  }

  /**
   * producer_pos (the kernel stores it whole, 64 bits at once), read as its high word, its
   * low word and its high word again: a changed high word means the low one wrapped between
   * the reads, so read again. Little-endian, as the BigUint64Array was.
   */
  private producerPosition(): number {
    const w = this.producerWords;
    for (;;) {
      const hi = Atomics.load(w, 1);
      const lo = Atomics.load(w, 0);
      if (Atomics.load(w, 1) === hi) return hi * 4294967296 + lo;
    }
  }

  /**
   * Hand every committed record to handler; returns how many. Never blocks. When the ring
   * held nearly its whole size as this drain began (the kernel may have dropped records,
   * BPF_MAP_TYPE_RINGBUF drops what does not fit), onFull runs after that pass's records and
   * before any that came later: any loss lies between the two.
   */
  drain(handler: RecordHandler, onFull?: () => void): number {
    if (this.closed) return 0;
    let got = 0;
    let cons = this.cons;
    let first = true;
    for (;;) {
      const prod = this.producerPosition();
      const wasFull = first && prod - cons > this.sizeBytes - FULL_MARGIN;
      first = false;
      if (cons >= prod) break;
      let progressed = false;
      while (cons < prod) {
        const at = cons & this.mask;
        const len = Atomics.load(this.dataWords, at >> 2) >>> 0;
        if ((len & BUSY_BIT) !== 0) break; // reserved, not yet committed: next drain
        const sampleLen = len & 0x3fffffff; // without the busy and discard bits
        cons += (sampleLen + HEADER_BYTES + 7) & ~7;
        progressed = true;
        if ((len & DISCARD_BIT) === 0) {
          got++;
          handler(this.data, at + HEADER_BYTES, sampleLen);
        }
      }
      // Release the space once per pass, not per record.
      Atomics.store(this.consumerPos, 0, BigInt(cons));
      if (wasFull && onFull !== undefined) onFull();
      if (!progressed) break;
    }
    this.cons = cons;
    this.records += got;
    return got;
  }

  /** Unmap; the Buffers must not be used afterwards. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    const n = nativeCalls();
    n.munmap(this.producerMap, this.producerBytes);
    n.munmap(this.consumerMap, this.consumerBytes);
  }
}
