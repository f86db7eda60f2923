// Go's function table (.gopclntab): program counter -> function name, file and line, read
// from the binary itself, so a stripped Go server (Debian's gopls, TypeScript 7's tsc) is
// named without the toolchain. Layouts of Go 1.2, 1.16, 1.18 and 1.20+ (1.20 changed only
// the magic), as Go's src/debug/gosym/pclntab.go describes them:
//
//   header   magic u32 | 0 0 | quantum u8 | ptrSize u8 | words (ptrSize each):
//            1.2   nfunc, then the function table follows at once
//            1.16  nfunc nfiles funcname cu filetab pctab pcln   (offsets from the header)
//            1.18+ nfunc nfiles textStart funcname cu filetab pctab pcln
//   functab  nfunc+1 pairs (entry pc, offset of its _func); ptrSize each before 1.18, u32
//            (pc as an offset from textStart) since; the last pc ends the table
//   _func    entry (uintptr; u32 offset since 1.18), then u32 fields: nameOff, args,
//            deferreturn, pcsp, pcfile, pcln, npcdata, cuOffset, ...
//   pc-value tables: pairs of varints (zig-zag value delta, pc delta / quantum) from the
//            entry, value -1 to start, ended by a zero value delta after the first pair
//
// No index is built: a lookup is a binary search over the function table in place and one
// walk of two short pc-value tables; names are cached per function. Inlined frames are
// reported as their outer function with the inlined code's file:line, as Go's own
// debug/gosym and `go tool addr2line` do.

import { BinaryView } from './binary-view';
import { ElfFile, PF_X, PT_LOAD } from './elf-file';
import type { SourceSymbol } from './source-symbol';

export type GoTableVersion = '1.2' | '1.16' | '1.18' | '1.20';

const MAGIC: ReadonlyMap<number, GoTableVersion> = new Map([
  [0xfffffffb, '1.2'], [0xfffffffa, '1.16'], [0xfffffff0, '1.18'], [0xfffffff1, '1.20'],
]);
/** Bytes of a segment searched for a table when the section headers don't name it. */
const MAX_SEARCH_BYTES = 256 * 1024 * 1024;

export class GoLineTable {
  readonly version: GoTableVersion;
  readonly functionCount: number;
  private readonly v: BinaryView;
  private readonly quantum: number;
  private readonly ptrSize: number;
  /** Size of a function table field: ptrSize before 1.18, 4 since. */
  private readonly fieldSize: number;
  private readonly textStart: number;
  private readonly funcnameAt: number;
  private readonly cuAt: number;
  private readonly filetabAt: number;
  private readonly pctabAt: number;
  private readonly functabAt: number;
  private readonly names = new Map<number, string>();
  /** Since 1.18 pcs are u32 offsets from textStart. */
  private readonly isOffsetTable: boolean;

  /**
   * data: the table's bytes from its header on. textStart: where the text segment starts
   * (runtime.text), used from 1.18 on when the header's own field is zero (Go 1.26+).
   */
  constructor(data: Buffer, littleEndian: boolean, textStart: number) {
    const v = new BinaryView(data, littleEndian);
    const version = data.length >= 16 ? MAGIC.get(v.u32(0)) : undefined;
    if (version === undefined || data[4] !== 0 || data[5] !== 0 || ![1, 2, 4].includes(data[6]) || ![4, 8].includes(data[7])) {
      throw new Error('not a Go 1.2+ function table');
    }
    this.v = v;
    this.version = version;
    this.quantum = data[6];
    this.ptrSize = data[7];
    const word = (i: number): number => v.word(8 + i * this.ptrSize, this.ptrSize);
    this.functionCount = word(0);
    this.isOffsetTable = version === '1.18' || version === '1.20';
    if (version === '1.2') {
      this.fieldSize = this.ptrSize;
      this.textStart = 0;
      this.funcnameAt = this.cuAt = this.pctabAt = 0;
      this.functabAt = 8 + this.ptrSize;
      this.filetabAt = v.u32(this.functabAt + (this.functionCount * 2 + 1) * this.fieldSize);
    } else {
      const w = version === '1.16' ? 2 : 3;
      this.fieldSize = version === '1.16' ? this.ptrSize : 4;
      this.textStart = version === '1.16' ? 0 : word(2) || textStart;
      this.funcnameAt = word(w);
      this.cuAt = word(w + 1);
      this.filetabAt = word(w + 2);
      this.pctabAt = word(w + 3);
      this.functabAt = word(w + 4);
    }
    const end = this.functabAt + (this.functionCount * 2 + 1) * this.fieldSize;
    if (this.functionCount <= 0 || end > data.length || this.filetabAt > data.length || this.pctabAt > data.length) {
      throw new Error('Go function table runs past its data');
    }
    // A table found by searching must agree with itself: the first function's own entry is
    // the function table's first pc.
    if (this.funcEntry(this.funcAt(0)) !== this.entryPc(0)) throw new Error('Go function table is inconsistent');
  }

  /**
   * Finds the table of a Go binary: its section (.gopclntab; .data.rel.ro.gopclntab in a
   * PIE); in a Go binary without one (sstrip removes section headers) a search of the
   * read-only segments for an aligned header (a magic, two zero bytes, the quantum and
   * pointer size) whose table agrees with itself. null: not Go.
   */
  static fromElf(elf: ElfFile): GoLineTable | null {
    const text = elf.section('.text');
    const textStart = text ? text.addr : (elf.segments.find((s) => s.type === PT_LOAD && (s.flags & PF_X) !== 0)?.vaddr ?? 0);
    const section = elf.section('.gopclntab') ?? elf.section('.data.rel.ro.gopclntab');
    if (section) {
      const data = elf.sectionData(section);
      return data ? tryTable(data, elf.littleEndian, textStart) : null;
    }
    if (!elf.section('.go.buildinfo') && elf.sections.length > 0) return null;
    for (const seg of elf.segments) {
      if (seg.type !== PT_LOAD || (seg.flags & PF_X) !== 0 || seg.filesz < 64) continue;
      const data = elf.read(seg.offset, Math.min(seg.filesz, MAX_SEARCH_BYTES));
      const table = searchTable(data, elf, textStart);
      if (table) return table;
    }
    return null;
  }

  /** The first and last+1 pc the table covers. */
  get range(): { start: number; end: number } {
    return { start: this.entryPc(0), end: this.entryPc(this.functionCount) };
  }

  /** The function, file and line of a pc (a vaddr of the binary), or null outside Go code. */
  /** Bytes held: the table as read (lookups walk it in place) and the names cached. */
  get heldBytes(): number {
    let names = 0;
    for (const n of this.names.values()) names += n.length * 2 + 16;
    return this.v.length + names;
  }

  lookup(pc: number): SourceSymbol | null {
    try {
      if (pc < this.entryPc(0) || pc >= this.entryPc(this.functionCount)) return null;
      let lo = 0, hi = this.functionCount - 1;
      while (lo < hi) {
        const mid = (lo + hi + 1) >>> 1;
        if (this.entryPc(mid) <= pc) lo = mid; else hi = mid - 1;
      }
      const f = this.funcAt(lo);
      const entry = this.funcEntry(f);
      const fields = f + (this.isOffsetTable ? 4 : this.ptrSize);
      const field = (n: number): number => this.v.u32(fields + (n - 1) * 4);
      let fn = this.names.get(f);
      if (fn === undefined) {
        fn = this.v.cString(this.funcnameAt + field(1));
        this.names.set(f, fn);
      }
      const line = this.pcValue(field(6), entry, pc);
      return { fn, file: this.fileName(field(5), field(8), entry, pc), line: line > 0 ? line : null };
    } catch (err) {
      if (err instanceof RangeError) return null; // a corrupt table names nothing rather than throw
      throw err;
    }
  }

  private entryPc(i: number): number {
    return this.textStart + this.v.word(this.functabAt + 2 * i * this.fieldSize, this.fieldSize);
  }

  /** Where function i's _func starts in the data. */
  private funcAt(i: number): number {
    return this.functabAt + this.v.word(this.functabAt + (2 * i + 1) * this.fieldSize, this.fieldSize);
  }

  private funcEntry(f: number): number {
    return this.isOffsetTable ? this.textStart + this.v.u32(f) : this.v.word(f, this.ptrSize);
  }

  private fileName(pcfile: number, cuOffset: number, entry: number, pc: number): string | null {
    const fno = this.pcValue(pcfile, entry, pc);
    if (this.version === '1.2') {
      if (fno <= 0) return null;
      return this.v.cString(this.v.u32(this.filetabAt + 4 * fno));
    }
    if (fno < 0) return null;
    const at = this.v.u32(this.cuAt + (cuOffset + fno) * 4);
    return at === 0xffffffff ? null : this.v.cString(this.filetabAt + at);
  }

  /** The value a pc-value table gives target, or -1. */
  private pcValue(tableOff: number, entry: number, target: number): number {
    // Offset 0 is a real (shared) table from 1.16 on; in 1.2's single blob it is the header.
    if (tableOff === 0 && this.version === '1.2') return -1;
    const b = this.v.bytes;
    let at = this.pctabAt + tableOff;
    let val = -1;
    let pc = entry;
    for (let first = true; at < b.length; first = false) {
      let uv = 0, shift = 0, byte: number;
      do { byte = b[at++]; uv += (byte & 0x7f) * 2 ** shift; shift += 7; } while (byte & 0x80 && at < b.length);
      if (uv === 0 && !first) return -1;
      val = (val + ((uv & 1) !== 0 ? ~(uv >>> 1) : uv >>> 1)) | 0;
      let pcDelta = 0;
      shift = 0;
      do { byte = b[at++]; pcDelta += (byte & 0x7f) * 2 ** shift; shift += 7; } while (byte & 0x80 && at < b.length);
      pc += pcDelta * this.quantum;
      if (target < pc) return val;
    }
    return -1;
  }
}

function tryTable(data: Buffer, littleEndian: boolean, textStart: number): GoLineTable | null {
  try {
    return new GoLineTable(data, littleEndian, textStart);
  } catch {
    return null;
  }
}

function searchTable(data: Buffer, elf: ElfFile, textStart: number): GoLineTable | null {
  const tail = Buffer.from([0xff, 0xff, 0xff, 0, 0]);
  for (let at = data.indexOf(tail, 1); at >= 0; at = data.indexOf(tail, at + 1)) {
    const start = elf.littleEndian ? at - 1 : at;
    if (start < 0 || start % 8 !== 0) continue; // the runtime aligns the table
    const table = tryTable(data.subarray(start), elf.littleEndian, textStart);
    if (table) return table;
  }
  return null;
}
