// Small statistics for the benchmark: percentiles of one run's samples, and median and
// spread across the repeated runs of one mode.

import { quantile } from '../src/model/quantile';

/** The p-th percentile (0..100) as lsptap prints every percentile (model/quantile.ts); samples need not be sorted. */
export function percentile(samples: number[], p: number): number {
  return quantile(Float64Array.from(samples).sort(), p / 100);
}

/** The median of the finite values. */
export function median(xs: number[]): number {
  return quantile(Float64Array.from(xs.filter((x) => Number.isFinite(x))).sort(), 0.5);
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
