// A process's executable mappings from /proc/PID/maps, read while it lives: which file (and
// where in it) a program counter falls in. Only executable mappings are kept, since a pc
// can be nowhere else; anonymous ones stay (JIT code, named by /tmp/perf-PID.map).

import * as fs from 'node:fs';

/** A mapped range of a process: [start, limit) holds the file from `offset` on. */
export interface Mapping {
  start: bigint;
  limit: bigint;
  offset: bigint;
  /** The path as the kernel gives it; "" for anonymous memory, "[vdso]" and the like. */
  file: string;
  /** Filled in once the binary has been opened by a Symbolizer; null until then or if none. */
  buildId: string | null;
}

/** A Mapping with the identity of its file, which a symbolizer keys its caches on. */
export interface FileMapping extends Mapping {
  /** major:minor of the device as /proc prints it. */
  readonly dev: string;
  readonly inode: number;
}

export class ProcessMaps {
  private constructor(readonly pid: number, readonly mappings: readonly FileMapping[]) {}

  /** null when the process is gone or its maps cannot be read. */
  static read(pid: number): ProcessMaps | null {
    let text: string;
    try {
      text = fs.readFileSync(`/proc/${pid}/maps`, 'latin1');
    } catch {
      return null;
    }
    return ProcessMaps.parse(pid, text);
  }

  /** Parses the text of a maps file (exposed for tests of odd lines). */
  static parse(pid: number, text: string): ProcessMaps {
    const out: FileMapping[] = [];
    for (const line of text.split('\n')) {
      // start-limit perms offset dev inode [path], path may hold spaces
      const m = /^([0-9a-f]+)-([0-9a-f]+) (\S{4}) ([0-9a-f]+) (\S+) (\d+)\s*(.*)$/.exec(line);
      if (!m || m[3][2] !== 'x') continue;
      out.push({
        start: BigInt(`0x${m[1]}`), limit: BigInt(`0x${m[2]}`), offset: BigInt(`0x${m[4]}`),
        file: m[7], buildId: null, dev: m[5], inode: Number(m[6]),
      });
    }
    out.sort((a, b) => (a.start < b.start ? -1 : a.start > b.start ? 1 : 0));
    return new ProcessMaps(pid, out);
  }

  find(pc: bigint): FileMapping | null {
    const maps = this.mappings;
    let lo = 0, hi = maps.length - 1;
    while (lo <= hi) {
      const mid = (lo + hi) >>> 1;
      const m = maps[mid];
      if (pc < m.start) hi = mid - 1;
      else if (pc >= m.limit) lo = mid + 1;
      else return m;
    }
    return null;
  }
}
