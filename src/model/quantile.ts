// The one percentile definition lsptap prints (report, diff, top, --summary's table through
// the report's rows, the benchmark): linear interpolation between the closest ranks of the
// sorted values, as SQL's quantile_cont, numpy's default and R's type 7. The median of an
// even count is the mean of the two middle values.

/** The q-quantile (0..1) of values sorted ascending; NaN for none. */
export function quantile(sorted: ArrayLike<number>, q: number): number {
  const n = sorted.length;
  if (n === 0) return NaN;
  const pos = (n - 1) * q;
  const lo = Math.floor(pos);
  const hi = Math.min(lo + 1, n - 1);
  return sorted[lo] + (sorted[hi] - sorted[lo]) * (pos - lo);
}
