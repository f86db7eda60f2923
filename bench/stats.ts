// Small statistics for the benchmark: percentiles of one run's samples, and median and
// spread across the repeated runs of one mode.

/** The p-th percentile (0..100) by nearest rank; samples need not be sorted. */
export function percentile(samples: number[], p: number): number {
  if (samples.length === 0) return NaN;
  const sorted = Float64Array.from(samples).sort();
  const rank = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[rank];
}

export function median(xs: number[]): number {
  const v = xs.filter((x) => Number.isFinite(x));
  if (v.length === 0) return NaN;
  const s = [...v].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 === 1 ? s[mid] : (s[mid - 1] + s[mid]) / 2;
}

export interface Spread {
  median: number;
  min: number;
  max: number;
  /** Half the range as a percentage of the median: the ± to read next to the median. */
  spreadPct: number;
  runs: number[];
}

export function spreadOf(runs: number[]): Spread {
  const v = runs.filter((x) => Number.isFinite(x));
  const med = median(v);
  const min = v.length === 0 ? NaN : Math.min(...v);
  const max = v.length === 0 ? NaN : Math.max(...v);
  return { median: med, min, max, spreadPct: med === 0 || v.length === 0 ? 0 : ((max - min) / 2 / Math.abs(med)) * 100, runs };
}
