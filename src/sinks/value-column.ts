// Every value of one figure (a method's latencies, or one kernel part), kept exactly but
// compactly, for exact percentiles over a month of logs: zeros are only counted (many
// kernel parts are 0 for most requests: no disk, no child), and the rest sit in the
// narrowest blocks that hold every value so far exactly: uint16 (whole µs under 65 ms, most
// pipe and read/write parts), float32 (whole µs up to 16.7 s), float64 (ms latencies with
// their decimals). A column widens once, on its first value that does not fit. Blocks grow to BLOCK_MAX values
// and are then added, never copied into a bigger array: no doubling slack, no freed
// arrays left behind (a month's report has hundreds of columns).

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
