// Every value of one figure (a method's latencies, or one kernel part), kept exactly but
// compactly, for exact percentiles over a month of logs: zeros are only counted (many
// kernel parts are 0 for most requests: no disk, no child), and the rest sit in the
// narrowest blocks that hold every value so far exactly: uint16 (whole µs under 65 ms, most
// pipe and read/write parts), float32 (whole µs up to 16.7 s), float64 (ms latencies with
// their decimals). A column widens once, on its first value that does not fit. Blocks grow to BLOCK_MAX values
// and are then added, never copied into a bigger array: no doubling slack, no freed
// arrays left behind (a month's report has hundreds of columns).

import { quantile } from '../model/quantile';

type Block = Uint16Array | Float32Array | Float64Array;

/** 0 uint16, 1 float32, 2 float64: the narrowest that holds v exactly. */
function levelOf(v: number): number {
  if (Number.isInteger(v) && v > 0 && v < 65536) return 0;
  return Math.fround(v) === v ? 1 : 2;
}

const BLOCK_MAX = 1 << 16;

export class ValueColumn {
  private zeros = 0;
  private n = 0;
  private level = 0;
  private readonly blocks: Block[] = [];
  private last: Block = new Uint16Array(16);
  private lastN = 0;

  get length(): number { return this.zeros + this.n; }

  push(v: number): void {
    if (v === 0) { this.zeros++; return; }
    if (this.level < 2) { const need = levelOf(v); if (need > this.level) this.widen(need); }
    if (this.lastN === this.last.length) {
      if (this.last.length < BLOCK_MAX) {
        const bigger = this.make(this.last.length * 4);
        bigger.set(this.last);
        this.last = bigger;
      } else {
        this.blocks.push(this.last);
        this.last = this.make(BLOCK_MAX);
        this.lastN = 0;
      }
    }
    this.last[this.lastN++] = v;
    this.n++;
  }

  /** All values in ascending order (a new array). */
  toSorted(): Float64Array {
    const rest = new Float64Array(this.n);
    let at = 0;
    for (const b of this.blocks) { rest.set(b, at); at += b.length; }
    rest.set(this.last.subarray(0, this.lastN), at);
    rest.sort();
    // Zeros sit between the negative values and the positive ones (a new array is all 0).
    const out = new Float64Array(this.zeros + this.n);
    let neg = 0;
    while (neg < rest.length && rest[neg] < 0) neg++;
    out.set(rest.subarray(0, neg), 0);
    out.set(rest.subarray(neg), neg + this.zeros);
    return out;
  }

  /**
   * quantile(toSorted(), q) for each q, without sorting every value: a month's report asks
   * two percentiles of each of hundreds of kernel-part columns (millions of values), and a
   * full sort of them all was a sixth of its CPU. A uint16 column is counted (a counter per
   * value), a wider one has just the ranks it needs selected in place (quickselect), and the
   * one quantile() interpolates between them.
   */
  quantiles(qs: readonly number[]): number[] {
    const total = this.zeros + this.n;
    if (total === 0) return qs.map(() => NaN);
    const ranks = [...new Set(qs.flatMap((q) => { const lo = Math.floor((total - 1) * q); return [lo, Math.min(lo + 1, total - 1)]; }))].sort((a, b) => a - b);
    const values = this.level === 0 ? this.countedRanks(ranks) : this.selectedRanks(ranks);
    // quantile() reads only the ranks it interpolates between: the same arithmetic as on the sorted column.
    const sparse: { length: number; [rank: number]: number } = { length: total };
    ranks.forEach((r, i) => { sparse[r] = values[i]; });
    return qs.map((q) => quantile(sparse, q));
  }

  /** The values at ascending ranks of a uint16 column (zeros below every value). */
  private countedRanks(ranks: number[]): number[] {
    const counts = new Uint32Array(65536);
    counts[0] = this.zeros;
    for (const b of this.blocks) for (let i = 0; i < b.length; i++) counts[b[i]]++;
    for (let i = 0; i < this.lastN; i++) counts[this.last[i]]++;
    const out: number[] = [];
    let v = 0;
    let below = counts[0];
    for (const r of ranks) {
      while (below <= r) below += counts[++v];
      out.push(v);
    }
    return out;
  }

  /** The values at ascending ranks of a wider column: zeros sit between the negative values and the rest. */
  private selectedRanks(ranks: number[]): number[] {
    const rest = new Float64Array(this.n);
    let at = 0;
    for (const b of this.blocks) { rest.set(b, at); at += b.length; }
    rest.set(this.last.subarray(0, this.lastN), at);
    let neg = 0;
    for (let i = 0; i < rest.length; i++) if (rest[i] < 0) neg++;
    const out: number[] = [];
    let from = 0;
    for (const r of ranks) {
      if (r >= neg && r < neg + this.zeros) { out.push(0); continue; }
      const k = r < neg ? r : r - this.zeros;
      out.push(selectRank(rest, k, from, rest.length - 1));
      from = k;
    }
    return out;
  }

  private make(size: number): Block {
    return this.level === 0 ? new Uint16Array(size) : this.level === 1 ? new Float32Array(size) : new Float64Array(size);
  }

  private widen(level: number): void {
    this.level = level;
    const copy = (b: Block): Block => { const w = this.make(b.length); w.set(b); return w; };
    for (let i = 0; i < this.blocks.length; i++) this.blocks[i] = copy(this.blocks[i]);
    this.last = copy(this.last);
  }
}

/**
 * The value of rank k of a[lo..hi] (inclusive), moving a's values so that those before k
 * are no larger and those after no smaller (Hoare's selection, median-of-three pivot).
 */
function selectRank(a: Float64Array, k: number, lo: number, hi: number): number {
  const swap = (i: number, j: number): void => { const t = a[i]; a[i] = a[j]; a[j] = t; };
  while (hi > lo) {
    const m = (lo + hi) >>> 1;
    if (a[m] < a[lo]) swap(lo, m);
    if (a[hi] < a[lo]) swap(lo, hi);
    if (a[hi] < a[m]) swap(m, hi);
    const pivot = a[m];
    let i = lo;
    let j = hi;
    while (i <= j) {
      while (a[i] < pivot) i++;
      while (a[j] > pivot) j--;
      if (i <= j) { swap(i, j); i++; j--; }
    }
    if (k <= j) hi = j;
    else if (k >= i) lo = i;
    else break;
  }
  return a[k];
}
