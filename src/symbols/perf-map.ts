// /tmp/perf-PID.map, the file a JIT writes for perf (Node's --perf-basic-prof, the JVM's
// perf-map-agent): one "START SIZE name" line per compiled function, hex without 0x. Read
// whole when first needed; a pc past everything read re-reads it if the file has grown
// (a JIT appends as it compiles).

import * as fs from 'node:fs';

export class PerfMap {
  private starts = new Float64Array(0);
  private ends = new Float64Array(0);
  private names: string[] = [];
  private readBytes = -1;

  constructor(readonly path: string) {}

  static forPid(pid: number): PerfMap {
    return new PerfMap(`/tmp/perf-${pid}.map`);
  }

  /** Bytes held: the index and its names. */
  get heldBytes(): number {
    let names = 0;
    for (const n of this.names) names += n.length * 2 + 16;
    return this.starts.byteLength + this.ends.byteLength + names;
  }

  lookup(pc: number): string | null {
    if (this.readBytes < 0 || (this.find(pc) === null && this.grew())) this.load();
    const i = this.find(pc);
    return i === null ? null : this.names[i];
  }

  private grew(): boolean {
    try {
      return fs.statSync(this.path).size !== this.readBytes;
    } catch {
      return false;
    }
  }

  private find(pc: number): number | null {
    const s = this.starts;
    let lo = 0, hi = s.length - 1;
    if (hi < 0 || pc < s[0]) return null;
    while (lo < hi) {
      const mid = (lo + hi + 1) >>> 1;
      if (s[mid] <= pc) lo = mid; else hi = mid - 1;
    }
    return pc < this.ends[lo] ? lo : null;
  }

  private load(): void {
    let text = '';
    try {
      text = fs.readFileSync(this.path, 'utf8');
    } catch {
      // no map: the runtime does not write one
    }
    this.readBytes = Buffer.byteLength(text);
    const rows: { start: number; end: number; name: string }[] = [];
    for (const line of text.split('\n')) {
      const m = /^(?:0x)?([0-9a-fA-F]+) (?:0x)?([0-9a-fA-F]+) (.+)$/.exec(line);
      if (m) rows.push({ start: parseInt(m[1], 16), end: parseInt(m[1], 16) + parseInt(m[2], 16), name: m[3] });
    }
    // A later line for the same address is a recompilation: keep the last.
    rows.sort((a, b) => a.start - b.start);
    this.starts = Float64Array.from(rows, (r) => r.start);
    this.ends = Float64Array.from(rows, (r) => r.end);
    this.names = rows.map((r) => r.name);
  }
}
