// The summary's percentiles of one method's latencies (ms), or of one kernel part (µs): a
// DDSketch (Datadog's, @datadog/sketches-js), whose insert is a logarithm and a counter
// increment. Why not the t-digest it replaced: its insert walked and grew a red-black tree
// and allocated per value, 460-560 ns a response against 32 ns, the largest per-message
// cost left after the log line, and batching inserts made it slower, not faster.
// What it gives up: a quantile is the value of its logarithmic bucket, within
// RELATIVE_ACCURACY of the exact one (a t-digest is exact at the tails and usually closer
// in the middle); quantiles are clamped to the smallest and largest value seen, so a
// method answered once reads its one latency exactly.

import { LogCollapsingLowestDenseDDSketch } from '@datadog/sketches-js';

/** Every quantile is within this fraction of the exact value. */
export const RELATIVE_ACCURACY = 0.005;
/**
 * Buckets kept per sketch (8 bytes each): at RELATIVE_ACCURACY they span a factor of 7.8e8
 * (1 µs to 13 minutes of latency); values further below the largest share the lowest bucket.
 */
const BIN_LIMIT = 2048;

export class QuantileSketch {
  private readonly sketch = new LogCollapsingLowestDenseDDSketch({ relativeAccuracy: RELATIVE_ACCURACY, binLimit: BIN_LIMIT });

  push(value: number): void { this.sketch.accept(value); }

  get count(): number { return this.sketch.count; }

  /** The q-quantile (0 to 1) of the values pushed, within the values seen (0 and 1: exactly those); NaN when none. */
  quantile(q: number): number {
    const s = this.sketch;
    if (s.count === 0) return NaN;
    if (q <= 0) return s.min;
    if (q >= 1) return s.max;
    return Math.min(s.max, Math.max(s.min, s.getValueAtQuantile(q)));
  }
}
