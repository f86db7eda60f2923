// The parts of an ELF file a symbolizer needs: section and program headers, the build id
// note, and the bytes of a section or segment. Reads ranges with pread on one fd instead of
// the whole file (gopls is 19 MB; its .gopclntab 4.8 MB of it). ELF32 and ELF64, either byte
// order; compressed sections (SHF_COMPRESSED) are treated as absent.

import * as fs from 'node:fs';
import { BinaryView } from './binary-view';

export interface ElfSection {
  name: string;
  type: number;
  flags: number;
  addr: number;
  offset: number;
  size: number;
  link: number;
  entsize: number;
}

export interface ElfSegment {
  type: number;
  flags: number;
  offset: number;
  vaddr: number;
  filesz: number;
  memsz: number;
}

export const SHT_SYMTAB = 2;
export const SHT_NOBITS = 8;
export const SHT_DYNSYM = 11;
const SHF_COMPRESSED = 0x800;
export const PT_LOAD = 1;
const PT_NOTE = 4;
export const PF_X = 1;
export const ET_EXEC = 2;
export const ET_DYN = 3;
const NT_GNU_BUILD_ID = 3;
const NT_GO_BUILD_ID = 4;
/** Header bytes read up front: ELF64 header size. */
const EHDR_BYTES = 64;

export class ElfFormatError extends Error {}

export class ElfFile {
  readonly is64: boolean;
  readonly littleEndian: boolean;
  readonly type: number;
  readonly machine: number;
  readonly sections: readonly ElfSection[];
  readonly segments: readonly ElfSegment[];

  private constructor(private fd: number | null, readonly path: string, head: Buffer, fileSize: number) {
    if (head.length < 52 || head.readUInt32BE(0) !== 0x7f454c46) throw new ElfFormatError(`${path}: not an ELF file`);
    this.is64 = head[4] === 2;
    this.littleEndian = head[5] === 1;
    const h = new BinaryView(head, this.littleEndian);
    this.type = h.u16(16);
    this.machine = h.u16(18);
    const phoff = this.is64 ? h.u64(32) : h.u32(28);
    const shoff = this.is64 ? h.u64(40) : h.u32(32);
    const at = this.is64 ? 54 : 42;
    const phentsize = h.u16(at), phnum = h.u16(at + 2), shentsize = h.u16(at + 4), shnum = h.u16(at + 6);
    const shstrndx = h.u16(at + 8);
    if (phoff + phentsize * phnum > fileSize || shoff + shentsize * shnum > fileSize) {
      throw new ElfFormatError(`${path}: headers past the end of the file`);
    }
    this.segments = this.readSegments(phoff, phentsize, phnum);
    this.sections = this.readSections(shoff, shentsize, shnum, shstrndx);
  }

  /** Opens path and reads its headers; the fd stays open for section reads until close(). */
  static open(path: string): ElfFile {
    const fd = fs.openSync(path, 'r');
    try {
      const size = fs.fstatSync(fd).size;
      const head = Buffer.alloc(Math.min(EHDR_BYTES, size));
      fs.readSync(fd, head, 0, head.length, 0);
      return new ElfFile(fd, path, head, size);
    } catch (err) {
      fs.closeSync(fd);
      throw err;
    }
  }

  close(): void {
    if (this.fd !== null) fs.closeSync(this.fd);
    this.fd = null;
  }

  view(bytes: Buffer): BinaryView {
    return new BinaryView(bytes, this.littleEndian);
  }

  /** length bytes at a file offset (fewer if the file is shorter). */
  read(offset: number, length: number): Buffer {
    return this.readInto(Buffer.allocUnsafe(length), offset);
  }

  /** Fills out from a file offset (a reader of slices reuses one buffer); the part filled. */
  readInto(out: Buffer, offset: number): Buffer {
    if (this.fd === null) throw new Error(`${this.path}: read after close`);
    let got = 0;
    while (got < out.length) {
      const n = fs.readSync(this.fd, out, got, out.length - got, offset + got);
      if (n === 0) break;
      got += n;
    }
    return got === out.length ? out : out.subarray(0, got);
  }

  section(name: string): ElfSection | null {
    return this.sections.find((s) => s.name === name) ?? null;
  }

  sectionData(section: ElfSection): Buffer | null {
    return this.hasData(section) ? this.read(section.offset, section.size) : null;
  }

  /** Whether a section's bytes are in the file as they are (not NOBITS, not compressed). */
  hasData(section: ElfSection): boolean {
    return section.type !== SHT_NOBITS && (section.flags & SHF_COMPRESSED) === 0;
  }

  /** The open file's identity (device, inode), to tell it from a file later put at its path. */
  stat(): fs.Stats {
    if (this.fd === null) throw new Error(`${this.path}: stat after close`);
    return fs.fstatSync(this.fd);
  }

  /** The loadable segment holding a file offset: what a mapping's offset is translated by. */
  loadSegmentAtOffset(fileOffset: number): ElfSegment | null {
    for (const s of this.segments) {
      if (s.type === PT_LOAD && fileOffset >= s.offset && fileOffset < s.offset + Math.max(s.filesz, 1)) return s;
    }
    return null;
  }

  /**
   * The build id: the GNU note as hex when there is one (what pprof and debuginfod key on),
   * else Go's own build id string (stripped Go binaries often have only that).
   */
  buildId(): string | null {
    let goId: string | null = null;
    for (const seg of this.segments) {
      if (seg.type !== PT_NOTE || seg.filesz > 1 << 16) continue;
      const v = this.view(this.read(seg.offset, seg.filesz));
      for (let at = 0; at + 12 <= v.length;) {
        const namesz = v.u32(at), descsz = v.u32(at + 4), type = v.u32(at + 8);
        const nameAt = at + 12, descAt = nameAt + align4(namesz);
        if (descAt + descsz > v.length) break;
        const owner = v.bytes.toString('latin1', nameAt, nameAt + namesz).replace(/\0+$/, '');
        if (owner === 'GNU' && type === NT_GNU_BUILD_ID) return v.bytes.toString('hex', descAt, descAt + descsz);
        if (owner === 'Go' && type === NT_GO_BUILD_ID) goId = v.bytes.toString('latin1', descAt, descAt + descsz);
        at = descAt + align4(descsz);
      }
    }
    return goId;
  }

  private readSegments(phoff: number, entsize: number, count: number): ElfSegment[] {
    if (count === 0) return [];
    const v = this.view(this.read(phoff, entsize * count));
    const out: ElfSegment[] = [];
    for (let i = 0; i < count; i++) {
      const at = i * entsize;
      out.push(this.is64
        ? { type: v.u32(at), flags: v.u32(at + 4), offset: v.u64(at + 8), vaddr: v.u64(at + 16), filesz: v.u64(at + 32), memsz: v.u64(at + 40) }
        : { type: v.u32(at), offset: v.u32(at + 4), vaddr: v.u32(at + 8), filesz: v.u32(at + 16), memsz: v.u32(at + 20), flags: v.u32(at + 24) });
    }
    return out;
  }

  private readSections(shoff: number, entsize: number, count: number, strndx: number): ElfSection[] {
    if (count === 0 || shoff === 0) return [];
    const v = this.view(this.read(shoff, entsize * count));
    const raw: (ElfSection & { nameAt: number })[] = [];
    for (let i = 0; i < count; i++) {
      const at = i * entsize;
      raw.push(this.is64
        ? { nameAt: v.u32(at), name: '', type: v.u32(at + 4), flags: v.u64(at + 8), addr: v.u64(at + 16), offset: v.u64(at + 24), size: v.u64(at + 32), link: v.u32(at + 40), entsize: v.u64(at + 56) }
        : { nameAt: v.u32(at), name: '', type: v.u32(at + 4), flags: v.u32(at + 8), addr: v.u32(at + 12), offset: v.u32(at + 16), size: v.u32(at + 20), link: v.u32(at + 24), entsize: v.u32(at + 36) });
    }
    const names = strndx < raw.length ? this.read(raw[strndx].offset, raw[strndx].size) : Buffer.alloc(0);
    const nv = this.view(names);
    return raw.map(({ nameAt, ...s }) => ({ ...s, name: nameAt < names.length ? nv.cString(nameAt) : '' }));
  }
}

function align4(n: number): number {
  return (n + 3) & ~3;
}
