// Function symbols of an ELF file (.symtab, else .dynsym): address -> name, for binaries
// that are not Go (clangd, libc, a JIT's host). The raw table is kept as read; the sorted
// index (two typed arrays) is built on the first lookup and names are decoded only for the
// symbols asked for. Names stay as linked (C++ names mangled; pprof's own tools demangle).

import type { BinaryView } from './binary-view';
import { ElfFile, SHT_DYNSYM, SHT_SYMTAB } from './elf-file';

const STT_FUNC = 2;
const STT_GNU_IFUNC = 10;

export class ElfSymbolTable {
  private starts: Float64Array | null = null;
  private ends: Float64Array = new Float64Array(0);
  private nameAts: Uint32Array = new Uint32Array(0);

  private constructor(
    private readonly symbols: BinaryView,
    private readonly strings: BinaryView,
    private readonly is64: boolean,
    /** Which table it is: `.symtab` (every function) or `.dynsym` (exported ones only). */
    readonly source: '.symtab' | '.dynsym',
  ) {}

  /** The fuller of .symtab and .dynsym; null when the file has neither. */
  static fromElf(elf: ElfFile): ElfSymbolTable | null {
    for (const type of [SHT_SYMTAB, SHT_DYNSYM]) {
      const sec = elf.sections.find((s) => s.type === type);
      if (!sec || sec.link >= elf.sections.length) continue;
      const data = elf.sectionData(sec);
      const names = elf.sectionData(elf.sections[sec.link]);
      if (!data || !names || data.length === 0) continue;
      return new ElfSymbolTable(elf.view(data), elf.view(names), elf.is64, type === SHT_SYMTAB ? '.symtab' : '.dynsym');
    }
    return null;
  }

  /** The function whose [start, start+size) holds addr; a zero-size symbol holds up to the next. */
  lookup(addr: number): string | null {
    if (this.starts === null) this.index();
    const starts = this.starts!;
    let lo = 0, hi = starts.length - 1;
    if (hi < 0 || addr < starts[0]) return null;
    while (lo < hi) {
      const mid = (lo + hi + 1) >>> 1;
      if (starts[mid] <= addr) lo = mid; else hi = mid - 1;
    }
    if (addr >= this.ends[lo]) return null;
    return this.strings.cString(this.nameAts[lo]);
  }

  /** Lower is preferred among aliases: leading underscores, then binding (global 1, weak 2). */
  private aliasRank(nameAt: number, binding: number): number {
    const b = this.strings.bytes;
    let underscores = 0;
    while (b[nameAt + underscores] === 0x5f) underscores++;
    return underscores * 4 + (binding === 1 ? 0 : binding === 2 ? 1 : 2);
  }

  private index(): void {
    const v = this.symbols;
    const entsize = this.is64 ? 24 : 16;
    const rows: { start: number; size: number; nameAt: number; rank: number }[] = [];
    for (let at = entsize; at + entsize <= v.length; at += entsize) { // entry 0 is the null symbol
      const info = v.u8(at + (this.is64 ? 4 : 12));
      const type = info & 0xf;
      const shndx = v.u16(at + (this.is64 ? 6 : 14));
      if ((type !== STT_FUNC && type !== STT_GNU_IFUNC) || shndx === 0) continue;
      const start = this.is64 ? v.u64(at + 8) : v.u32(at + 4);
      const size = this.is64 ? v.u64(at + 16) : v.u32(at + 8);
      if (start === 0) continue;
      rows.push({ start, size, nameAt: v.u32(at), rank: this.aliasRank(v.u32(at), info >> 4) });
    }
    // Aliases share an address (libc's write and __write): a sized symbol covers its body,
    // then the name a user calls (fewest leading underscores), then a global over a weak one.
    rows.sort((a, b) => a.start - b.start || b.size - a.size || a.rank - b.rank);
    const kept = rows.filter((r, i) => i === 0 || r.start !== rows[i - 1].start);
    this.starts = new Float64Array(kept.length);
    this.ends = new Float64Array(kept.length);
    this.nameAts = new Uint32Array(kept.length);
    kept.forEach((r, i) => {
      this.starts![i] = r.start;
      const next = i + 1 < kept.length ? kept[i + 1].start : Infinity;
      this.ends[i] = r.size > 0 ? r.start + r.size : next;
      this.nameAts[i] = r.nameAt;
    });
  }
}
