// Names program counters: user ones through the process's mappings and each mapped binary's
// tables, kernel ones through /proc/kallsyms. One per analysis thread (never on the relay
// thread: opening gopls's table reads 5 MB). Binaries are cached by device, inode and mtime,
// so every process of a server tree and every session of a long run share one read, and a
// binary replaced on disk is read again; a file that cannot be read is remembered as such.

import * as fs from 'node:fs';
import { BinarySymbols } from './binary-symbols';
import { KernelSymbols } from './kernel-symbols';
import { PerfMap } from './perf-map';
import type { FileMapping, Mapping, ProcessMaps } from './process-maps';
import { UNNAMED, type SourceSymbol } from './source-symbol';
import { shortCxxName } from './cxx-name';

export interface SymbolizerOptions {
  /** Where kernel names come from (a test passes its own file). */
  kernelSymbols?: KernelSymbols;
  /** The perf map of a pid (a test points it elsewhere). */
  perfMap?: (pid: number) => PerfMap;
  /**
   * The C++ runtime's demangler (probes/native.ts cxxDemangle): a mangled ELF name (`_Z...`)
   * becomes its short source name (cxx-name.ts). Without it names stay as linked.
   */
  demangle?: (mangled: string) => string | null;
}

export class Symbolizer {
  private readonly binaries = new Map<string, BinarySymbols | null>();
  /** mapping -> its binary, so a pc costs no stat after the first in its mapping. */
  private readonly byMapping = new WeakMap<FileMapping, BinarySymbols | null>();
  private readonly perfMaps = new Map<number, PerfMap>();
  private readonly kernelSymbols: KernelSymbols;
  private readonly perfMapOf: (pid: number) => PerfMap;
  private readonly demangle: ((mangled: string) => string | null) | null;
  /** Mangled name -> short name: the demangler runs once per function a profile shows. */
  private readonly demangled = new Map<string, SourceSymbol>();

  constructor(options: SymbolizerOptions = {}) {
    this.kernelSymbols = options.kernelSymbols ?? new KernelSymbols();
    this.perfMapOf = options.perfMap ?? ((pid) => PerfMap.forPid(pid));
    this.demangle = options.demangle ?? null;
  }

  /**
   * Names a user pc of the process maps was read from. A return address (every frame but
   * the leaf) is looked up at pc-1: the call, not the instruction after it, which may
   * belong to the next line or, after a call that never returns, the next function.
   */
  user(maps: ProcessMaps, pc: bigint, isReturnAddress: boolean): { mapping: Mapping | null; symbol: SourceSymbol } {
    const mapping = maps.find(pc);
    if (!mapping) return { mapping: null, symbol: UNNAMED };
    const at = isReturnAddress ? pc - 1n : pc;
    if (isAnonymous(mapping.file)) {
      const fn = this.perfMap(maps.pid).lookup(Number(at));
      return { mapping, symbol: fn === null ? UNNAMED : { fn, file: null, line: null } };
    }
    const binary = this.binaryOf(maps.pid, mapping);
    if (!binary) return { mapping, symbol: UNNAMED };
    const vaddr = binary.vaddrOf(Number(at - mapping.start + mapping.offset));
    return { mapping, symbol: vaddr === null ? UNNAMED : this.readable(binary.lookup(vaddr)) };
  }

  /** A mangled C++ name demangled and shortened, once per name; any other symbol as it is. */
  private readable(symbol: SourceSymbol): SourceSymbol {
    const fn = symbol.fn;
    if (this.demangle === null || fn === null || !fn.startsWith('_Z')) return symbol;
    let known = this.demangled.get(fn);
    if (known === undefined) {
      const full = this.demangle(fn);
      known = full === null ? symbol : { ...symbol, fn: shortCxxName(full) };
      this.demangled.set(fn, known);
    }
    return known;
  }

  /**
   * Bytes the tables read so far hold (kernel, binaries, perf maps): what symbolizing costs
   * in memory, for `session end` (kernel.profile.symbolBytes).
   */
  get heldBytes(): number {
    let n = this.kernelSymbols.heldBytes;
    for (const b of this.binaries.values()) n += b?.heldBytes ?? 0;
    for (const m of this.perfMaps.values()) n += m.heldBytes;
    return n;
  }

  kernel(pc: bigint): { symbol: SourceSymbol } {
    const fn = this.kernelSymbols.lookup(pc);
    return { symbol: fn === null ? UNNAMED : { fn, file: null, line: null } };
  }

  private perfMap(pid: number): PerfMap {
    let map = this.perfMaps.get(pid);
    if (!map) this.perfMaps.set(pid, (map = this.perfMapOf(pid)));
    return map;
  }

  private binaryOf(pid: number, mapping: FileMapping): BinarySymbols | null {
    const known = this.byMapping.get(mapping);
    if (known !== undefined) return known;
    const path = openablePath(pid, mapping);
    let binary: BinarySymbols | null = null;
    if (path) {
      const key = `${path.stat.dev}:${path.stat.ino}:${path.stat.mtimeMs}`;
      const cached = this.binaries.get(key);
      if (cached !== undefined) {
        binary = cached;
      } else {
        try {
          binary = BinarySymbols.open(path.path);
        } catch {
          binary = null; // not ELF, or gone: its frames keep mapping and offset
        }
        this.binaries.set(key, binary);
      }
    }
    if (binary) mapping.buildId = binary.buildId;
    this.byMapping.set(mapping, binary);
    return binary;
  }
}

function isAnonymous(file: string): boolean {
  return file === '' || file.startsWith('[anon') || file.startsWith('/memfd:');
}

/**
 * The file a mapping maps: its path when that still is the mapped inode, else the kernel's
 * link to the mapped file itself (/proc/PID/map_files, root only), which outlives a delete
 * or an upgrade in place. null for [vdso] and the like, or when neither is reachable.
 */
function openablePath(pid: number, m: FileMapping): { path: string; stat: fs.Stats } | null {
  if (!m.file.startsWith('/')) return null;
  const file = m.file.endsWith(' (deleted)') ? m.file.slice(0, -' (deleted)'.length) : m.file;
  for (const path of [file, `/proc/${pid}/map_files/${m.start.toString(16)}-${m.limit.toString(16)}`]) {
    try {
      const stat = fs.statSync(path);
      if (stat.ino === m.inode) return { path, stat };
    } catch {
      // try the next way in
    }
  }
  return null;
}
