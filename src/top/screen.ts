// One frame of `lsptap top` as lines of plain text, cut to the terminal's size: a header,
// the requests in flight (oldest first), the per-method table, and the last slow requests
// with their kernel fields on one line each. No escape codes here (terminal.ts draws).

import { quantile } from '../model/quantile';
import type { LiveState, SlowOne } from './live-state';
import { compareText } from '../model/text-order';
import { formatMs } from '../sinks/text-table';
import { LINE_MAX_BYTES } from './log-tail';


const age = (ms: number): string => (ms < 10_000 ? `${(ms / 1000).toFixed(1)}s` : ms < 600_000 ? `${Math.round(ms / 1000)}s` : `${Math.round(ms / 60_000)}m`);
const clock = (ms: number): string => new Date(ms).toTimeString().slice(0, 8);

/** Short names for the kernel fields lsptap writes (docs/kernel-timing.md "Fields"); others keep theirs. */
// In the order they are shown: where the server's time went first, the pipes after.
const KERNEL_LABELS: Record<string, string> = {
  serverUs: 'srv', serverCpuUs: 'cpu', serverRunqUs: 'runq', serverBlockedUs: 'blk', toServerPipeUs: 'pipe>srv',
  toLsptapPipeUs: 'pipe>tap', toEditorPipeUs: 'pipe>ed', lsptapReadUs: 'rd', lsptapWriteUs: 'wr',
};

/** A slow request's kernel fields in one line, in ms, in the order the line has them. */
export function kernelLine(k: SlowOne['kernel']): string {
  if (k === null) return 'no kernel timing';
  const order = Object.keys(KERNEL_LABELS);
  const rank = (name: string): number => (order.includes(name) ? order.indexOf(name) : order.length);
  return Object.entries(k).filter(([, v]) => v !== null).sort(([a], [b]) => rank(a) - rank(b))
    .map(([name, v]) => `${KERNEL_LABELS[name] ?? name.replace(/Us$/, '')} ${formatMs((v as number) / 1000)}`).join(' ');
}

function sorted(values: number[]): Float64Array { return Float64Array.from(values).sort(); }

/** skippedLines: log lines over top's cap (log-tail.ts LINE_MAX_BYTES), not read. */
export interface ScreenInfo { nowMs: number; cols: number; rows: number; sources: number; slowMs: number; skippedLines: number }

const fit = (s: string, w: number): string => (s.length <= w ? s.padEnd(w) : w <= 1 ? s.slice(0, w) : `${s.slice(0, w - 1)}~`);

export function renderScreen(state: LiveState, info: ScreenInfo): string[] {
  const { cols, rows, nowMs } = info;
  const out: string[] = [];
  const skipped = info.skippedLines > 0 ? `, ${info.skippedLines} line(s) over ${LINE_MAX_BYTES >> 20} MiB skipped` : '';
  out.push(`lsptap top  ${clock(nowMs)}  ${info.sources} log(s), ${state.sessionCount} session(s), ${state.liveSessions} live${skipped}  q quits`);

  const flying = state.inFlight();
  const slow = state.slow;
  // Rows for each part: the table gets what in-flight and slow lines leave, at least 3.
  const fixed = 1 + 1 + 1 + 1 + 1; // header, in-flight title, table title + rule, slow title
  const room = Math.max(0, rows - fixed);
  const slowRows = Math.min(slow.length, Math.max(1, Math.floor(room / 5)));
  const flyRows = Math.min(Math.max(flying.length, 1), Math.max(1, Math.floor((room - slowRows) / 3)));
  const tableRows = Math.max(0, room - slowRows - flyRows - 1);

  out.push(`IN FLIGHT ${flying.length}${flying.length > flyRows ? ` (oldest ${flyRows} shown)` : ''}`);
  const methodW = Math.max(12, cols - 26);
  if (flying.length === 0) out.push('  (none)');
  for (const f of flying.slice(0, flyRows)) out.push(`  ${age(nowMs - f.sinceMs).padStart(6)}  ${f.dir}  ${fit(f.method, methodW - 12)} ${String(f.id).slice(0, 8)}`);

  const minute = state.lastMinute(nowMs);
  // The table: dir+method, then 1-minute n/p50/p99, session n/p50/p99, errors, cancellations.
  const numW = [4, 6, 6, 5, 6, 6, 3, 3];
  const nameW = Math.max(10, cols - numW.reduce((a, b) => a + b + 1, 0) - 4);
  const head = ['1m n', 'p50', 'p99', 'all n', 'p50', 'p99', 'err', 'cxl'];
  out.push(`${fit('METHOD (ms)', nameW + 4)}${head.map((h, i) => ` ${h.padStart(numW[i])}`).join('')}`);
  const tallies = [...state.totals.values()].sort((a, b) => (minute.get(`${b.dir} ${b.method}`)?.length ?? 0) - (minute.get(`${a.dir} ${a.method}`)?.length ?? 0)
    || b.answered - a.answered || b.count - a.count || compareText(a.method, b.method));
  for (const t of tallies.slice(0, tableRows)) {
    const m = minute.get(`${t.dir} ${t.method}`) ?? [];
    const ms = sorted(m);
    const all = t.latencies.toSorted();
    const q = (s: Float64Array, p: number): string => (s.length === 0 ? '-' : formatMs(quantile(s, p)));
    const isReq = t.kind === 'request';
    const cells = isReq
      ? [String(ms.length), q(ms, 0.5), q(ms, 0.99), String(t.answered), q(all, 0.5), q(all, 0.99), String(t.errors), String(t.cancelled)]
      : ['', '', '', String(t.count), '', '', '', ''];
    out.push(`${t.dir} ${fit(t.method, nameW)}${cells.map((c, i) => ` ${c.padStart(numW[i])}`).join('')}`);
  }
  if (tallies.length > tableRows && tableRows > 0) out[out.length - 1] = `  ... ${tallies.length - tableRows + 1} more method(s)`;

  out.push(`SLOW >= ${info.slowMs} ms, newest first (kernel parts in ms)`);
  for (const s of slow.slice(-slowRows).reverse()) {
    out.push(`${clock(s.atMs)}${s.server !== null ? ` ${s.server}` : ''} ${s.dir} ${s.method}${s.isError ? ' (error)' : ''} ${formatMs(s.latencyMs)} ms: ${kernelLine(s.kernel)}`);
  }
  return out.slice(0, rows).map((l) => (l.length > cols ? l.slice(0, cols) : l.trimEnd()));
}
