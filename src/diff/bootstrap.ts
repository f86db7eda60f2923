// Is B's median really different from A's, or is it the noise of a few slow requests? A
// percentile bootstrap of the ratio of medians: resample each side with replacement, take
// the ratio of the two resampled medians, repeat, and read the central 95% of the ratios.
// A verdict is given only when that interval leaves out 1. The medians, not p99: with the
// tens of requests per method a session holds, a p99 is one or two requests and a resample
// of it mostly says how few there are.
//
// Seeded (mulberry32) so the same logs always give the same verdicts.

/** Fewer answered requests than this on a side: no verdict, a resample of so few says nothing. */
export const MIN_SAMPLES = 5;
export const RESAMPLES = 2000;
export const LEVEL = 0.95;

export interface RatioInterval { low: number; high: number }

/** mulberry32: a small, well-known 32-bit PRNG; enough for resampling, and seedable. */
export function seededRandom(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/**
 * The median of one resample of `sorted`, without sorting the resample: draw n indices,
 * count how often each is drawn, and walk the counts to the middle ranks (the resample,
 * sorted, is `sorted` with each value repeated by its count). O(n) per resample.
 */
export function resampledMedian(sorted: Float64Array, random: () => number, counts: Uint32Array): number {
  const n = sorted.length;
  counts.fill(0);
  for (let k = 0; k < n; k++) counts[Math.floor(random() * n)]++;
  // Linear interpolation between closest ranks, as the report's quantile(…, 0.5) does.
  const loRank = Math.floor((n - 1) / 2);
  const hiRank = Math.ceil((n - 1) / 2);
  let seen = 0;
  let lo = NaN;
  for (let i = 0; i < n; i++) {
    seen += counts[i];
    if (Number.isNaN(lo) && seen > loRank) lo = sorted[i];
    if (seen > hiRank) return (lo + sorted[i]) / 2;
  }
  return sorted[n - 1];
}

/** The central LEVEL interval of median(B*) / median(A*); null when a side is too small. */
export function medianRatioInterval(a: Float64Array, b: Float64Array, seed: number, resamples = RESAMPLES): RatioInterval | null {
  if (a.length < MIN_SAMPLES || b.length < MIN_SAMPLES) return null;
  const random = seededRandom(seed);
  const countsA = new Uint32Array(a.length);
  const countsB = new Uint32Array(b.length);
  const ratios = new Float64Array(resamples);
  for (let r = 0; r < resamples; r++) {
    const ma = resampledMedian(a, random, countsA);
    const mb = resampledMedian(b, random, countsB);
    ratios[r] = ma > 0 ? mb / ma : mb > 0 ? Infinity : 1;
  }
  ratios.sort();
  const tail = (1 - LEVEL) / 2;
  return { low: ratios[Math.floor(tail * (resamples - 1))], high: ratios[Math.ceil((1 - tail) * (resamples - 1))] };
}

/** A stable seed per row, so adding a method to a log does not change another's verdict. */
export function seedOf(key: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < key.length; i++) h = Math.imul(h ^ key.charCodeAt(i), 0x01000193);
  return h >>> 0;
}
