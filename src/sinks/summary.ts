// Per-method, per-direction latency percentiles (t-digest) and counts, for the `summary` and
// `session end` lines and for the --summary table on stderr. Kernel parts, when records
// carry them, get a digest each so the summary shows their p50/p99 too.

import type { TDigest } from 'tdigest';
import type { Direction, MessageKind } from '../model/frame';
import type { KernelTiming, MessageRecord } from '../model/record';
import { MethodTally } from './method-tally';
import { RunDigest } from './run-digest';
import { explainRequest } from './kernel-text';
import { compareText } from '../model/text-order';
import { formatMs, renderTable } from './text-table';

export interface PartStats { p50: number; p99: number }

export interface MethodStats {
  /** Direction of the request or notification (responses count toward their request's direction). */
  dir: Direction;
  method: string;
  kind: 'request' | 'notification';
  count: number;
  /** Requests only. */
  answered: number;
  errors: number;
  cancelled: number;
  p50Ms: number | null;
  p90Ms: number | null;
  p99Ms: number | null;
  maxMs: number | null;
  /** Kernel parts (µs), present when kernel timing ran. */
  kernel?: Record<string, PartStats>;
}

export type MessageCounts = Record<Direction, Record<MessageKind, number> & { bytes: number }>;

/** A request kept for its one-line explanation (--summary). */
export interface SlowKernelRequest { method: string; id: string | number | null; latencyMs: number; kernel: KernelTiming }

/** Requests explained in --summary: the slowest with a server window. */
export const EXPLAINED_REQUESTS = 5;

const round3 = (x: number): number => Math.round(x * 1000) / 1000;

/**
 * Methods tallied by name, per direction. A session may send any number of distinct method
 * names (a fuzzer, a broken client: 1,000,000 cost 1.4 GB of digests before); past this
 * many, a method's messages are tallied in one row per kind named OTHER_METHODS, so counts
 * and latencies stay whole while memory stays bounded (metrics.ts caps its label the same way).
 */
export const TRACKED_METHODS_MAX = 10_000;
/** The row that holds the methods past TRACKED_METHODS_MAX. */
export const OTHER_METHODS = '(other methods)';
/**
 * Rows a `summary` or `session end` line lists, in table order (slowest, then busiest, first):
 * 10,000 rows were a 5 MB line. The rest are totalled in `summaryOmitted`.
 */
export const SUMMARY_LINE_ROWS = 1_000;

/** What a summary line leaves out: how many rows, and the messages they counted. */
export interface SummaryOmitted { rows: number; count: number; answered: number; reason: string }

/** The rows a log line lists, and what it left out (null: nothing). */
export interface SummaryLineRows { rows: MethodStats[]; omitted: SummaryOmitted | null }

/**
 * compress() re-inserts every centroid in random order, to undo the poor merging sorted input
 * causes. A digest of up to this many centroids holds its values nearly one by one and
 * gains nothing; with kernel timing a session has some 35 digests per method, and
 * compressing them all cost ~20 ms of CPU at session end (8 methods).
 */
const COMPRESS_ABOVE = 100;

function compressLarge(d: TDigest): void {
  if (d.size() > COMPRESS_ABOVE) d.compress();
}

export class Summary {
  /** Per direction, by method: no key string is built per message on the relay path. */
  private readonly entries: Record<Direction, Map<string, MethodTally<RunDigest>>> = { c2s: new Map(), s2c: new Map() };
  /** Past TRACKED_METHODS_MAX methods: one row per direction and kind, outside the table so it never counts toward it. */
  private readonly others: Record<Direction, Partial<Record<'request' | 'notification', MethodTally<RunDigest>>>> = { c2s: {}, s2c: {} };
  readonly counts: MessageCounts = {
    c2s: { request: 0, response: 0, notification: 0, invalid: 0, bytes: 0 },
    s2c: { request: 0, response: 0, notification: 0, invalid: 0, bytes: 0 },
  };

  /** The slowest answered requests with kernel fields, slowest first. */
  readonly slowestKernel: SlowKernelRequest[] = [];

  add(rec: MessageRecord): void {
    this.lastRows = null;
    const c = this.counts[rec.dir];
    c[rec.kind]++;
    c.bytes += rec.bytes + rec.headerBytes;
    if (rec.method === null) return;
    if (rec.kind === 'request' || rec.kind === 'notification') {
      this.entry(rec.dir, rec.method, rec.kind).count++;
    } else if (rec.kind === 'response' && rec.latencyMs !== null) {
      this.entry(rec.dir === 'c2s' ? 's2c' : 'c2s', rec.method, 'request').answer(rec.latencyMs, rec.isError === true, rec.cancelled, rec.kernel);
      if (rec.kernel !== null) this.keepSlow(rec.method, rec.id, rec.latencyMs, rec.kernel);
    }
  }

  /**
   * The rows, kept until the next message: the summary line at `exit` and `session end` right
   * after it ask for the same rows, and with kernel timing each computation reads some 300
   * digests (~10 ms of CPU on a cold thread).
   */
  private lastRows: MethodStats[] | null = null;

  rows(): MethodStats[] {
    this.lastRows ??= this.computeRows();
    return [...this.lastRows];
  }

  /** The rows for a log line: the first SUMMARY_LINE_ROWS in table order, and a count of the rest. */
  lineRows(max = SUMMARY_LINE_ROWS): SummaryLineRows {
    const all = this.rows();
    if (all.length <= max) return { rows: all, omitted: null };
    let count = 0;
    let answered = 0;
    for (let i = max; i < all.length; i++) { count += all[i].count; answered += all[i].answered; }
    return {
      rows: all.slice(0, max),
      omitted: { rows: all.length - max, count, answered, reason: `only the first ${max} rows (slowest, then busiest) are listed on a log line` },
    };
  }

  private computeRows(): MethodStats[] {
    const out: MethodStats[] = [];
    const others = [this.others.c2s.request, this.others.c2s.notification, this.others.s2c.request, this.others.s2c.notification].filter((e) => e !== undefined);
    for (const e of [...this.entries.c2s.values(), ...this.entries.s2c.values(), ...others]) {
      const has = e.answered > 0;
      const latencies = e.latencies.flushed();
      if (has) compressLarge(latencies);
      const row: MethodStats = {
        dir: e.dir, method: e.method, kind: e.kind, count: e.count, answered: e.answered,
        errors: e.errors, cancelled: e.cancelled,
        p50Ms: has ? round3(latencies.percentile(0.5)) : null,
        p90Ms: has ? round3(latencies.percentile(0.9)) : null,
        p99Ms: has ? round3(latencies.percentile(0.99)) : null,
        maxMs: has ? round3(e.maxMs) : null,
      };
      if (e.kernel !== null) {
        row.kernel = {};
        for (const [part, run] of e.kernel) {
          const d = run.flushed();
          compressLarge(d);
          row.kernel[part] = { p50: Math.round(d.percentile(0.5)), p99: Math.round(d.percentile(0.99)) };
        }
      }
      out.push(row);
    }
    // Slowest first: people read the top of the table.
    return out.sort((a, b) => (b.p50Ms ?? -1) - (a.p50Ms ?? -1) || b.count - a.count || compareText(a.method, b.method));
  }

  private keepSlow(method: string, id: string | number | null, latencyMs: number, kernel: KernelTiming): void {
    if (typeof kernel.serverUs !== 'number') return;
    const list = this.slowestKernel;
    if (list.length >= EXPLAINED_REQUESTS && latencyMs <= list[list.length - 1].latencyMs) return;
    list.push({ method, id, latencyMs, kernel });
    list.sort((a, b) => b.latencyMs - a.latencyMs);
    if (list.length > EXPLAINED_REQUESTS) list.pop();
  }

  private entry(dir: Direction, method: string, kind: 'request' | 'notification'): MethodTally<RunDigest> {
    const table = this.entries[dir];
    let e = table.get(method);
    if (e === undefined) {
      if (table.size >= TRACKED_METHODS_MAX) return this.otherEntry(dir, kind);
      e = new MethodTally(dir, method, kind, () => new RunDigest());
      table.set(method, e);
    }
    return e;
  }

  private otherEntry(dir: Direction, kind: 'request' | 'notification'): MethodTally<RunDigest> {
    return (this.others[dir][kind] ??= new MethodTally(dir, OTHER_METHODS, kind, () => new RunDigest()));
  }

}

/** The summary as an aligned table for people (stderr with --summary, and the demo). */
export function formatSummaryTable(rows: MethodStats[]): string {
  const head = ['dir', 'method', 'count', 'p50 ms', 'p90 ms', 'p99 ms', 'max ms', 'errors'];
  const body = rows.map((r) => [
    r.dir, r.method, String(r.count), formatMs(r.p50Ms), formatMs(r.p90Ms), formatMs(r.p99Ms), formatMs(r.maxMs),
    r.kind === 'request' ? String(r.errors) : '-',
  ]);
  return alignTable(head, body);
}

/** Kernel parts shown for people, in ms, in the order a request travels. */
const KERNEL_COLUMNS: [string, string][] = [
  ['fromEditorPipeUs', 'pipe from ed'], ['toServerPipeUs', 'pipe to srv'], ['serverUs', 'server'], ['serverCpuUs', 'on CPU'], ['serverRunqUs', 'runq'],
  ['serverBlockedUs', 'blocked'], ['blockedOnChildUs', 'on child'], ['childCpuUs', 'child CPU'], ['blockedOnDiskUs', 'on disk'],
  ['blockedOtherUs', 'other'], ['serverWriteUs', 'srv write'], ['toLsptapPipeUs', 'pipe to tap'], ['toEditorPipeUs', 'pipe to ed'],
  ['lsptapReadUs', 'tap read'], ['lsptapWriteUs', 'tap write'],
];

/** Where the time of each request method went, p50 in ms (docs/kernel-timing.md); '' when no kernel data. */
export function formatKernelTable(rows: MethodStats[]): string {
  const withKernel = rows.filter((r) => r.kind === 'request' && r.kernel !== undefined && r.kernel.serverUs !== undefined);
  if (withKernel.length === 0) return '';
  const head = ['dir', 'method', 'count', 'p50 ms', ...KERNEL_COLUMNS.map(([, label]) => label)];
  const body = withKernel.map((r) => [
    r.dir, r.method, String(r.answered), formatMs(r.p50Ms),
    ...KERNEL_COLUMNS.map(([part]) => (r.kernel?.[part] === undefined ? '-' : formatMs(r.kernel[part].p50 / 1000))),
  ]);
  return alignTable(head, body);
}

/** dir and method left, figures right. */
const NAME_COLUMNS: ReadonlySet<number> = new Set([0, 1]);
const alignTable = (head: string[], body: string[][]): string => renderTable(head, body, NAME_COLUMNS);

/** One sentence per slow request (docs/kernel-timing.md); '' when none has a server window. */
export function formatExplanations(slowest: SlowKernelRequest[], server?: string): string {
  const lines = slowest.map((r) => explainRequest(r.method, r.latencyMs, r.kernel, server)).filter((l): l is string => l !== null);
  return lines.length === 0 ? '' : lines.join('\n') + '\n';
}
