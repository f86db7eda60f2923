// Function symbols of an ELF file (.symtab, else .dynsym): address -> name, for binaries
// that are not Go (clangd, libc, a JIT's host). Built when the binary is opened, by reading
// the symbol table in fixed-size slices into typed arrays (no object per symbol), and holding
// no names: a name is read from the file when a lookup first asks for it. node's own binary
// (unstripped) has 110,000 symbols and 7.5 MB of names; holding its tables as read and an
// object per symbol cost the analysis thread 12 MB kept and 28 MB of peak RSS for the few
// hundred functions a profile names. Names stay as linked here; the Symbolizer demangles
// C++ names it hands out (symbolizer.ts).

import * as fs from 'node:fs';
import { ElfFile, SHT_DYNSYM, SHT_SYMTAB, type ElfSection } from './elf-file';

const STT_FUNC = 2;
const STT_GNU_IFUNC = 10;
const STB_GLOBAL = 1;
const STB_WEAK = 2;
/** Symbol table bytes read per slice (a multiple of both entry sizes, 16 and 24). */
const SLICE_BYTES = 240 * 1024;
/** Name bytes read per try; a longer (C++) name reads on, up to NAME_MAX_BYTES. */
const NAME_READ_BYTES = 256;
const NAME_MAX_BYTES = 64 * 1024;
/** Leading bytes of an alias's name read to rank it (its leading underscores). */
const RANK_READ_BYTES = 16;

/** Where the names are: the binary's path (reopened per name) and the file it was when read. */
interface NameSource { path: string; dev: number; ino: number; at: number; size: number }

export class ElfSymbolTable {
  /** Names read so far, by symbol index. */
  private readonly names = new Map<number, string | null>();
  private nameBytes = 0;

  /** Built by fromElf. */
  constructor(
    private readonly starts: Float64Array,
    private readonly ends: Float64Array,
    private readonly nameAts: Uint32Array,
    private readonly strings: NameSource,
    /** Which table it is: `.symtab` (every function) or `.dynsym` (exported ones only). */
    readonly source: '.symtab' | '.dynsym',
  ) {}

  /** The fuller of .symtab and .dynsym; null when the file has neither. */
  static fromElf(elf: ElfFile): ElfSymbolTable | null {
    for (const type of [SHT_SYMTAB, SHT_DYNSYM]) {
      const sec = elf.sections.find((s) => s.type === type);
      if (!sec || sec.link >= elf.sections.length || sec.size === 0) continue;
      const strtab = elf.sections[sec.link];
      if (!elf.hasData(strtab)) continue; // compressed or NOBITS: no names here
      const stat = elf.stat();
      return index(elf, sec, strtab, { path: elf.path, dev: stat.dev, ino: stat.ino, at: strtab.offset, size: strtab.size }, type === SHT_SYMTAB ? '.symtab' : '.dynsym');
    }
    return null;
  }

  /** Functions indexed. */
  get functionCount(): number {
    return this.starts.length;
  }

  /** Bytes this table holds: its index (the whole arrays its views are of) and the names read so far. */
  get heldBytes(): number {
    return this.starts.buffer.byteLength + this.ends.buffer.byteLength + this.nameAts.buffer.byteLength + this.nameBytes;
  }

  /** The function whose [start, start+size) holds addr; a zero-size symbol holds up to the next. */
  lookup(addr: number): string | null {
    const starts = this.starts;
    let lo = 0, hi = starts.length - 1;
    if (hi < 0 || addr < starts[0]) return null;
    while (lo < hi) {
      const mid = (lo + hi + 1) >>> 1;
      if (starts[mid] <= addr) lo = mid; else hi = mid - 1;
    }
    if (addr >= this.ends[lo]) return null;
    return this.name(lo);
  }

  private name(i: number): string | null {
    let n = this.names.get(i);
    if (n === undefined) {
      n = readName(this.strings, this.nameAts[i]);
      this.names.set(i, n);
      this.nameBytes += n === null ? 0 : n.length * 2 + 16;
    }
    return n;
  }
}

/**
 * Builds the index from the table read slice by slice (twice: once to count the functions,
 * so every array is allocated once at its size); aliases ranked by a few bytes of their
 * names. The sort's arrays become the index's, so building it peaks at some 33 bytes a
 * function and holds 20.
 */
function index(elf: ElfFile, sec: ElfSection, strtab: ElfSection, strings: NameSource, source: '.symtab' | '.dynsym'): ElfSymbolTable {
  const entsize = elf.is64 ? 24 : 16;
  const buffer = Buffer.allocUnsafe(Math.floor(SLICE_BYTES / entsize) * entsize);
  let n = 0;
  eachFunction(elf, sec, buffer, () => { n++; });
  // Candidates, in table order: start, size, name offset, binding.
  const start = new Float64Array(n), size = new Float64Array(n), nameAt = new Uint32Array(n), bind = new Uint8Array(n);
  let filled = 0;
  eachFunction(elf, sec, buffer, (s, z, name, b) => {
    if (filled === n) return; // the file grew between the passes
    start[filled] = s; size[filled] = z; nameAt[filled] = name; bind[filled] = b; filled++;
  });
  n = filled;
  // Aliases share an address (libc's write and __write): a sized symbol covers its body,
  // then the name a user calls (fewest leading underscores), then a global over a weak one.
  const scratch = new Float64Array(n);
  const order = sortByStart(start, n, scratch);
  const tied: number[] = [];
  let kept = 0;
  for (let i = 0; i < n;) {
    let end = i + 1, best = order[i];
    while (end < n && start[order[end]] === start[best]) end++;
    for (let k = i + 1; k < end; k++) if (size[order[k]] > size[best]) best = order[k];
    for (let k = i; k < end && end - i > 1; k++) if (size[order[k]] === size[best]) tied.push(kept, order[k]);
    order[kept++] = best;
    i = end;
  }
  if (tied.length > 0) rankTies(elf, strtab, tied, nameAt, bind, order);
  // Gathered into arrays done with: starts into the sort's scratch, ends into the
  // candidates' starts (read through starts from here on), name offsets into order.
  const starts = scratch.subarray(0, kept), ends = start.subarray(0, kept), nameAts = order.subarray(0, kept);
  for (let i = 0; i < kept; i++) starts[i] = start[order[i]];
  for (let i = 0; i < kept; i++) {
    const r = order[i];
    const next = i + 1 < kept ? starts[i + 1] : Infinity;
    ends[i] = size[r] > 0 ? starts[i] + size[r] : next;
    nameAts[i] = nameAt[r];
  }
  return new ElfSymbolTable(starts, ends, nameAts, strings, source);
}

/** Calls fn for each defined function symbol with a nonzero address, reading the table through buffer. */
function eachFunction(elf: ElfFile, sec: ElfSection, buffer: Buffer, fn: (start: number, size: number, nameAt: number, binding: number) => void): void {
  const is64 = elf.is64, entsize = is64 ? 24 : 16;
  const total = Math.floor(sec.size / entsize);
  const perSlice = buffer.length / entsize;
  for (let first = 1; first < total; first += perSlice) { // entry 0 is the null symbol
    const count = Math.min(perSlice, total - first);
    const v = elf.view(elf.readInto(buffer.subarray(0, count * entsize), sec.offset + first * entsize));
    for (let at = 0; at + entsize <= v.length; at += entsize) {
      const info = v.u8(at + (is64 ? 4 : 12));
      const type = info & 0xf;
      if ((type !== STT_FUNC && type !== STT_GNU_IFUNC) || v.u16(at + (is64 ? 6 : 14)) === 0) continue;
      const s = is64 ? v.u64(at + 8) : v.u32(at + 4);
      if (s !== 0) fn(s, is64 ? v.u64(at + 16) : v.u32(at + 8), v.u32(at), info >> 4);
    }
  }
}

/**
 * Picks among aliases of one start and size (tied: pairs of kept slot, candidate): fewest
 * leading underscores, then global over weak over local, then table order. The underscores
 * come from one pass over the string table in slices, in name order.
 */
function rankTies(elf: ElfFile, strtab: ElfSection, tied: number[], nameAt: Uint32Array, bind: Uint8Array, order: Uint32Array): void {
  const pairs = tied.length / 2;
  const byName = new Uint32Array(pairs);
  for (let p = 0; p < pairs; p++) byName[p] = p;
  byName.sort((a, b) => nameAt[tied[2 * a + 1]] - nameAt[tied[2 * b + 1]]);
  const score = new Float64Array(pairs);
  const buffer = Buffer.allocUnsafe(Math.min(SLICE_BYTES, strtab.size));
  let slice: Buffer = buffer.subarray(0, 0), sliceAt = 0;
  for (const p of byName) {
    const r = tied[2 * p + 1], at = nameAt[r];
    if (at < sliceAt || at + RANK_READ_BYTES > sliceAt + slice.length) {
      sliceAt = at;
      slice = at < strtab.size ? elf.readInto(buffer.subarray(0, Math.min(buffer.length, strtab.size - at)), strtab.offset + at) : buffer.subarray(0, 0);
    }
    let u = 0;
    while (at - sliceAt + u < slice.length && u < RANK_READ_BYTES && slice[at - sliceAt + u] === 0x5f) u++;
    score[p] = (u * 4 + (bind[r] === STB_GLOBAL ? 0 : bind[r] === STB_WEAK ? 1 : 2)) * 2 ** 32 + r;
  }
  const best = new Map<number, number>(); // kept slot -> lowest score so far
  for (let p = 0; p < pairs; p++) {
    const slot = tied[2 * p];
    if (score[p] < (best.get(slot) ?? Infinity)) {
      best.set(slot, score[p]);
      order[slot] = tied[2 * p + 1];
    }
  }
}

/**
 * Candidate indexes sorted by start. Start and index packed in one double (in scratch) sort
 * natively (a comparator over 100,000 symbols cost 100 ms) when they fit in 53 bits, as
 * user-space addresses of any binary but a huge one do.
 */
function sortByStart(start: Float64Array, n: number, scratch: Float64Array): Uint32Array {
  const order = new Uint32Array(n);
  let max = 0;
  for (let i = 0; i < n; i++) max = Math.max(max, start[i]);
  const scale = 2 ** Math.ceil(Math.log2(n + 1));
  if (max * scale < 2 ** 53) {
    for (let i = 0; i < n; i++) scratch[i] = start[i] * scale + i;
    scratch.sort();
    for (let i = 0; i < n; i++) order[i] = scratch[i] % scale;
  } else {
    for (let i = 0; i < n; i++) order[i] = i;
    order.sort((a, b) => start[a] - start[b] || a - b);
  }
  return order;
}

/** A name from the string table, reading the file again; null if it is gone or no longer the same file. */
function readName(src: NameSource, nameAt: number): string | null {
  if (nameAt >= src.size) return null;
  let fd: number;
  try { fd = fs.openSync(src.path, 'r'); } catch { return null; }
  try {
    const st = fs.fstatSync(fd);
    if (st.dev !== src.dev || st.ino !== src.ino) return null;
    const chunks: Buffer[] = [];
    for (let off = nameAt; off < src.size && off - nameAt < NAME_MAX_BYTES;) {
      const want = Math.min(NAME_READ_BYTES, src.size - off);
      const b = Buffer.allocUnsafe(want);
      const got = fs.readSync(fd, b, 0, want, src.at + off);
      if (got <= 0) break;
      const end = b.indexOf(0);
      if (end >= 0 && end < got) { chunks.push(b.subarray(0, end)); break; }
      chunks.push(b.subarray(0, got));
      off += got;
    }
    return (chunks.length === 1 ? chunks[0] : Buffer.concat(chunks)).toString('utf8');
  } catch {
    return null;
  } finally {
    fs.closeSync(fd);
  }
}
