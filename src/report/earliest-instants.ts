// The earliest `max` instants of a stream that may arrive out of time order (all of them
// when max is null), each a time and a small code, held in two typed arrays: the HTML
// report keeps each session's earliest notifications, and a month of 85 sessions held them
// as one object each (170,000 to 340,000 objects, ~120 MB of heap); here they cost 12 bytes
// each. The cut is amortised: once twice max are held, a stable sort by time keeps the
// earliest max, so ties stay in arrival order.

export class EarliestInstants {
  private atMs: Float64Array;
  private codes: Uint32Array;
  private n = 0;

  constructor(private readonly max: number | null) {
    const size = max === null ? 64 : Math.min(64, 2 * max + 1);
    this.atMs = new Float64Array(size);
    this.codes = new Uint32Array(size);
  }

  get length(): number { return this.n; }

  push(atMs: number, code: number): void {
    if (this.n === this.atMs.length) this.grow(this.n * 2);
    this.atMs[this.n] = atMs;
    this.codes[this.n] = code;
    this.n++;
    if (this.max !== null && this.n > 2 * this.max) this.cut(this.max);
  }

  /** Each kept instant, in the order held: arrival order, or time order after a cut. */
  forEach(visit: (atMs: number, code: number) => void): void {
    for (let i = 0; i < this.n; i++) visit(this.atMs[i], this.codes[i]);
  }

  private grow(size: number): void {
    const cap = this.max === null ? size : Math.min(size, 2 * this.max + 1);
    const atMs = new Float64Array(cap);
    const codes = new Uint32Array(cap);
    atMs.set(this.atMs.subarray(0, this.n));
    codes.set(this.codes.subarray(0, this.n));
    this.atMs = atMs;
    this.codes = codes;
  }

  /** Keep the earliest `keep`, in time order (ties in the order held). */
  private cut(keep: number): void {
    const order = Array.from({ length: this.n }, (_, i) => i).sort((a, b) => this.atMs[a] - this.atMs[b] || a - b);
    const atMs = Float64Array.from(order.slice(0, keep), (i) => this.atMs[i]);
    const codes = Uint32Array.from(order.slice(0, keep), (i) => this.codes[i]);
    this.atMs.set(atMs);
    this.codes.set(codes);
    this.n = keep;
  }
}
