// The kernel's function names from /proc/kallsyms (addresses are real for root; all zero
// without CAP_SYSLOG, which names nothing). Read once, on the first kernel frame.

import * as fs from 'node:fs';

export class KernelSymbols {
  private starts: BigUint64Array | null = null;
  private names: string[] = [];

  constructor(private readonly path = '/proc/kallsyms') {}

  lookup(pc: bigint): string | null {
    if (this.starts === null) this.load();
    const s = this.starts!;
    let lo = 0, hi = s.length - 1;
    if (hi < 0 || pc < s[0]) return null;
    while (lo < hi) {
      const mid = (lo + hi + 1) >>> 1;
      if (s[mid] <= pc) lo = mid; else hi = mid - 1;
    }
    return this.names[lo];
  }

  private load(): void {
    let text = '';
    try {
      text = fs.readFileSync(this.path, 'latin1');
    } catch {
      // unreadable: kernel frames keep their addresses
    }
    const rows: { addr: bigint; name: string }[] = [];
    // "ffffffff81000000 T _stext" or "... t name\t[module]": text symbols only
    for (const m of text.matchAll(/^([0-9a-f]+) [tTwW] (\S+)/gm)) {
      const addr = BigInt(`0x${m[1]}`);
      if (addr !== 0n) rows.push({ addr, name: m[2] });
    }
    rows.sort((a, b) => (a.addr < b.addr ? -1 : a.addr > b.addr ? 1 : 0));
    this.starts = BigUint64Array.from(rows, (r) => r.addr);
    this.names = rows.map((r) => r.name);
  }
}
