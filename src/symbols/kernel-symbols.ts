// The kernel's function names from /proc/kallsyms (addresses are real for root; all zero
// without CAP_SYSLOG, which names nothing). Read once, on the first kernel frame, through
// one 64 KiB buffer (the kernel hands out a page per read), into typed arrays: the text
// symbols' addresses, and their names' bytes in 1 MiB blocks (never copied to grow), no
// object or string per symbol. kallsyms lists addresses in order except for what was
// loaded last (BPF programs, some modules): those few go to a second table, sorted apart,
// so the large one is never sorted or copied. Here: 121,000 symbols in 5.4 MB of text,
// held in 4.9 MB; the whole text as a string and a row object per symbol held 13 MB and
// took 57 MB of peak RSS.

import * as fs from 'node:fs';

const READ_BYTES = 64 * 1024;
/** Kernel symbol names are at most KSYM_NAME_LEN (512) bytes; a longer line is skipped. */
const LINE_MAX = 1024;
/** Names are stored in blocks of this size; a name's place is (block << 20) | offset. */
const NAME_BLOCK_BITS = 20;
const NAME_BLOCK_BYTES = 1 << NAME_BLOCK_BITS;

export class KernelSymbols {
  /** In kallsyms's order, which is the address order for all but the last loaded. */
  private inOrder = new SymbolRows(0);
  /** The rest (BPF programs, late modules), sorted once read. */
  private outOfOrder = new SymbolRows(0);
  private names: Buffer[] = [];
  private loaded = false;

  constructor(private readonly path = '/proc/kallsyms') {}

  /** Symbols held (after the first lookup). */
  get count(): number {
    return this.inOrder.n + this.outOfOrder.n;
  }

  /** Bytes held (after the first lookup). */
  get heldBytes(): number {
    return this.inOrder.heldBytes + this.outOfOrder.heldBytes + this.names.reduce((n, b) => n + b.length, 0);
  }

  lookup(pc: bigint): string | null {
    if (!this.loaded) this.load();
    const h = Number(pc >> 32n), l = Number(pc & 0xffffffffn);
    const a = this.inOrder.find(h, l), b = this.outOfOrder.find(h, l);
    // The nearest start at or below pc, from either table.
    const [rows, i] = a < 0 ? [this.outOfOrder, b] : b < 0 || this.inOrder.above(a, this.outOfOrder, b) ? [this.inOrder, a] : [this.outOfOrder, b];
    if (i < 0) return null;
    const at = rows.nameAt[i] & (NAME_BLOCK_BYTES - 1);
    return this.names[rows.nameAt[i] >>> NAME_BLOCK_BITS].toString('latin1', at, at + rows.nameLen[i]);
  }

  private load(): void {
    this.loaded = true;
    let fd: number;
    try {
      fd = fs.openSync(this.path, 'r');
    } catch {
      return; // unreadable: kernel frames keep their addresses
    }
    this.inOrder = new SymbolRows(1 << 16);
    this.outOfOrder = new SymbolRows(64);
    const parser = new LineParser(this.inOrder, this.outOfOrder, this.names);
    try {
      const buf = Buffer.allocUnsafe(READ_BYTES + LINE_MAX);
      let carry = 0; // bytes of a line begun in the last read, moved to the front
      for (;;) {
        const got = fs.readSync(fd, buf, carry, READ_BYTES, null);
        const end = carry + got;
        // Plain loops over the bytes, not Buffer's indexOf and copy: a native call per line
        // and per name cost a fifth of the load (121,000 lines here).
        let at = 0;
        for (let nl = at; nl < end; nl++) {
          if (buf[nl] !== 10) continue;
          parser.line(buf, at, nl);
          at = nl + 1;
        }
        if (got === 0) break;
        carry = end - at > LINE_MAX ? 0 : end - at;
        buf.copy(buf, 0, end - carry, end);
      }
    } catch {
      // a read that fails mid-way keeps what was read
    } finally {
      fs.closeSync(fd);
    }
    this.outOfOrder.sort();
  }
}

/** Symbols as parallel typed arrays: address halves (32-bit, so the search stays in numbers) and name places. */
class SymbolRows {
  n = 0;
  hi: Uint32Array;
  lo: Uint32Array;
  nameAt: Uint32Array;
  nameLen: Uint16Array;

  constructor(capacity: number) {
    this.hi = new Uint32Array(capacity);
    this.lo = new Uint32Array(capacity);
    this.nameAt = new Uint32Array(capacity);
    this.nameLen = new Uint16Array(capacity);
  }

  get heldBytes(): number {
    return this.hi.byteLength + this.lo.byteLength + this.nameAt.byteLength + this.nameLen.byteLength;
  }

  /** Whether address (h, l) sorts after the last row (or there is none). */
  after(h: number, l: number): boolean {
    const i = this.n - 1;
    return i < 0 || this.hi[i] < h || (this.hi[i] === h && this.lo[i] <= l);
  }

  push(h: number, l: number, nameAt: number, nameLen: number): void {
    if (this.n === this.hi.length) this.grow();
    const i = this.n++;
    this.hi[i] = h;
    this.lo[i] = l;
    this.nameAt[i] = nameAt;
    this.nameLen[i] = nameLen;
  }

  /** The last row at or below (h, l), or -1. */
  find(h: number, l: number): number {
    const atOrBelow = (i: number): boolean => this.hi[i] < h || (this.hi[i] === h && this.lo[i] <= l);
    let lo = 0, hi = this.n - 1;
    if (hi < 0 || !atOrBelow(0)) return -1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >>> 1;
      if (atOrBelow(mid)) lo = mid; else hi = mid - 1;
    }
    return lo;
  }

  /** Whether row i here starts above row j of other (equal: this one, the main table). */
  above(i: number, other: SymbolRows, j: number): boolean {
    return this.hi[i] > other.hi[j] || (this.hi[i] === other.hi[j] && this.lo[i] >= other.lo[j]);
  }

  /** Sorts by address (a few hundred rows: the out-of-order ones). */
  sort(): void {
    const n = this.n;
    const order = Array.from({ length: n }, (_, i) => i).sort((a, b) => this.hi[a] - this.hi[b] || this.lo[a] - this.lo[b] || a - b);
    const take = <T extends Uint32Array | Uint16Array>(a: T): void => { const copy = a.slice(0, n); order.forEach((from, to) => { a[to] = copy[from]; }); };
    take(this.hi); take(this.lo); take(this.nameAt); take(this.nameLen);
  }

  private grow(): void {
    const cap = Math.max(64, this.hi.length * 2);
    const hi = new Uint32Array(cap), lo = new Uint32Array(cap), nameAt = new Uint32Array(cap), nameLen = new Uint16Array(cap);
    hi.set(this.hi); lo.set(this.lo); nameAt.set(this.nameAt); nameLen.set(this.nameLen);
    this.hi = hi; this.lo = lo; this.nameAt = nameAt; this.nameLen = nameLen;
  }
}

/** Takes "ffffffff81000000 T _stext" or "... t name\t[module]" lines: text symbols only. */
class LineParser {
  /** Bytes used in the last name block. */
  private used = NAME_BLOCK_BYTES;

  constructor(private readonly inOrder: SymbolRows, private readonly outOfOrder: SymbolRows, private readonly names: Buffer[]) {}

  line(b: Buffer, from: number, to: number): void {
    let h = 0, l = 0;
    let digits = from;
    while (digits < to && b[digits] !== 32) digits++;
    if (digits >= to || digits - from > 16 || digits + 3 >= to) return;
    for (let at = from; at < digits; at++) {
      const d = hexDigit(b[at]);
      if (d < 0) return;
      h = ((h << 4) | (l >>> 28)) >>> 0;
      l = ((l << 4) | d) >>> 0;
    }
    const type = b[digits + 1];
    // t T w W: text (code) symbols, local or global, weak or not
    if ((type !== 0x74 && type !== 0x54 && type !== 0x77 && type !== 0x57) || b[digits + 2] !== 32 || (h === 0 && l === 0)) return;
    const nameFrom = digits + 3;
    let nameTo = nameFrom;
    while (nameTo < to && b[nameTo] !== 9 && b[nameTo] !== 32) nameTo++; // a module's name follows a tab
    const len = nameTo - nameFrom;
    if (len === 0 || len > LINE_MAX) return;
    if (this.used + len > NAME_BLOCK_BYTES) {
      this.names.push(Buffer.allocUnsafe(NAME_BLOCK_BYTES));
      this.used = 0;
    }
    const block = this.names[this.names.length - 1];
    for (let i = 0; i < len; i++) block[this.used + i] = b[nameFrom + i];
    const nameAt = ((this.names.length - 1) << NAME_BLOCK_BITS) | this.used;
    this.used += len;
    (this.inOrder.after(h, l) ? this.inOrder : this.outOfOrder).push(h, l, nameAt, len);
  }
}

function hexDigit(c: number): number {
  if (c >= 0x30 && c <= 0x39) return c - 0x30;
  if (c >= 0x61 && c <= 0x66) return c - 0x57;
  if (c >= 0x41 && c <= 0x46) return c - 0x37;
  return -1;
}
