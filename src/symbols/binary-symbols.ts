// Everything one binary names, read once: its Go function table when it has one, else its
// ELF symbols, and the load segments that turn a mapping's file offset into the vaddr the
// tables speak. Built on the first pc asked of the binary; the tables index lazily.

import { ElfFile, PT_LOAD, type ElfSegment } from './elf-file';
import { ElfSymbolTable } from './elf-symbol-table';
import { GoLineTable } from './go-line-table';
import { UNNAMED, type SourceSymbol } from './source-symbol';

export class BinarySymbols {
  private constructor(
    readonly buildId: string | null,
    private readonly segments: readonly ElfSegment[],
    readonly go: GoLineTable | null,
    readonly elfSymbols: ElfSymbolTable | null,
  ) {}

  /** Reads path's headers and tables and closes it; throws if it is not an ELF file. */
  static open(path: string): BinarySymbols {
    const elf = ElfFile.open(path);
    try {
      const go = GoLineTable.fromElf(elf);
      return new BinarySymbols(elf.buildId(), elf.segments.filter((s) => s.type === PT_LOAD), go, ElfSymbolTable.fromElf(elf));
    } finally {
      elf.close();
    }
  }

  /** The vaddr a file offset is loaded at, or null when no load segment holds it. */
  vaddrOf(fileOffset: number): number | null {
    for (const s of this.segments) {
      if (fileOffset >= s.offset && fileOffset < s.offset + s.filesz) return fileOffset - s.offset + s.vaddr;
    }
    return null;
  }

  /** Bytes its tables hold. */
  get heldBytes(): number {
    return (this.go?.heldBytes ?? 0) + (this.elfSymbols?.heldBytes ?? 0);
  }

  lookup(vaddr: number): SourceSymbol {
    const fromGo = this.go?.lookup(vaddr);
    if (fromGo) return fromGo;
    const fn = this.elfSymbols?.lookup(vaddr) ?? null;
    return fn === null ? UNNAMED : { fn, file: null, line: null };
  }
}
