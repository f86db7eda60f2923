// Two reports side by side, per method and direction: counts, p50/p99 on each side, the
// ratio of medians, its bootstrap interval and a verdict only where the interval says the
// difference is larger than the noise.

import type { Direction } from '../model/frame';
import type { Report } from '../report/aggregate';
import type { MethodStats } from '../sinks/summary';
import { LEVEL, MIN_SAMPLES, RESAMPLES, medianRatioInterval, seedOf, type RatioInterval } from './bootstrap';
import { compareText } from '../model/text-order';

export interface SideStats { count: number; answered: number; errors: number; p50Ms: number | null; p99Ms: number | null }

/**
 * slower/faster: the interval of B/A leaves out 1. same: it holds 1 (within the noise).
 * few: fewer than MIN_SAMPLES answered requests on a side. onlyA/onlyB: one side never
 * sent it. notification: nothing to time.
 */
export type Verdict = 'slower' | 'faster' | 'same' | 'few' | 'onlyA' | 'onlyB' | 'notification';

export interface DiffRow {
  dir: Direction;
  method: string;
  kind: 'request' | 'notification';
  a: SideStats | null;
  b: SideStats | null;
  /** p50 of B over p50 of A; null when either has no latency. */
  ratio: number | null;
  interval: RatioInterval | null;
  verdict: Verdict;
}

export interface SideInfo {
  sources: string[]; sessions: number; messages: number; corruptLines: number;
  /** Responses whose latencyMs was left out (report's latencyProblem). */
  rejectedLatencies: number;
}

export interface Comparison {
  a: SideInfo;
  b: SideInfo;
  method: string;
  rows: DiffRow[];
}

export const NOISE_METHOD = `bootstrap of the ratio of medians: ${RESAMPLES} resamples of each side, ${LEVEL * 100}% percentile interval; a verdict only when it leaves out 1 and each side has at least ${MIN_SAMPLES} answered requests`;

const side = (r: MethodStats): SideStats => ({ count: r.count, answered: r.answered, errors: r.errors, p50Ms: r.p50Ms, p99Ms: r.p99Ms });
const info = (r: Report): SideInfo => ({
  sources: r.sources, sessions: r.sessions, messages: r.messages, corruptLines: r.corruptCount, rejectedLatencies: r.rejected.reduce((n, x) => n + x.count, 0),
});

function verdictOf(kind: 'request' | 'notification', a: MethodStats | undefined, b: MethodStats | undefined, interval: RatioInterval | null): Verdict {
  if (a === undefined) return 'onlyB';
  if (b === undefined) return 'onlyA';
  if (kind === 'notification') return 'notification';
  if (interval === null) return 'few';
  if (interval.low > 1) return 'slower';
  if (interval.high < 1) return 'faster';
  return 'same';
}

export function compareReports(a: Report, b: Report): Comparison {
  const key = (r: MethodStats): string => `${r.dir} ${r.method}`;
  const rowsA = new Map(a.methods.map((r) => [key(r), r]));
  const rowsB = new Map(b.methods.map((r) => [key(r), r]));
  const rows: DiffRow[] = [];
  for (const k of new Set([...rowsA.keys(), ...rowsB.keys()])) {
    const ra = rowsA.get(k);
    const rb = rowsB.get(k);
    const any = (ra ?? rb)!;
    const kind = ra?.kind === 'request' || rb?.kind === 'request' ? 'request' : 'notification';
    const la = a.latencies[k];
    const lb = b.latencies[k];
    const interval = la !== undefined && lb !== undefined ? medianRatioInterval(Float64Array.from(la), Float64Array.from(lb), seedOf(k)) : null;
    const ratio = ra?.p50Ms != null && rb?.p50Ms != null && ra.p50Ms > 0 ? rb.p50Ms / ra.p50Ms : null;
    rows.push({ dir: any.dir, method: any.method, kind, a: ra ? side(ra) : null, b: rb ? side(rb) : null, ratio, interval, verdict: verdictOf(kind, ra, rb, interval) });
  }
  // Requests first, the largest change first; then notifications by method.
  const weight = (r: DiffRow): number => (r.kind === 'notification' ? -1 : r.ratio === null ? 0 : Math.abs(Math.log(r.ratio)) + 1);
  rows.sort((x, y) => weight(y) - weight(x) || compareText(x.method, y.method) || compareText(x.dir, y.dir));
  return { a: info(a), b: info(b), method: NOISE_METHOD, rows };
}
