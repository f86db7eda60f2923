// Folds message lines from any number of session logs into per-method, per-direction rows
// (the summary's MethodStats shape) and the N slowest requests with their phases.
//
// Percentiles here are exact, not t-digest: a report reads whole logs after the fact, so it
// can keep one number per answered request (8 bytes each) and sort. They use linear
// interpolation between closest ranks (the `quantile_cont` of DuckDB and most SQL engines,
// numpy's default), so an engine reading the same .jsonl files gets the same numbers.

import type { Direction } from '../model/frame';
import type { MethodStats, PartStats } from '../sinks/summary';
import { MethodTally } from '../sinks/method-tally';

/** A line's session id (a string in every lsptap log; anything else reads as none). */
function sessionOf(line: Record<string, unknown>): string {
  return typeof line.session === 'string' ? line.session : '';
}

export interface ReportFilters {
  /** Only this method (exact match); null for all. */
  method: string | null;
  /** Epoch ms bounds on each message line's `time`, inclusive; null for open. */
  sinceMs: number | null;
  untilMs: number | null;
  /** How many slowest requests to list. */
  slowest: number;
}

/** One phase of a request, in ms from the moment its first byte was read. */
export interface Phase { name: string; startMs: number; endMs: number }

export interface SlowRequest {
  dir: Direction;
  method: string;
  id: number | string | null;
  latencyMs: number;
  isError: boolean;
  session: string;
  /** Epoch ms of the response line. */
  time: number;
  source: string;
  lineNo: number;
  /** Editor's write to editor's read as lsptap saw it; empty when the request line was not in the log. */
  phases: Phase[];
  kernel: Record<string, number | null> | null;
}

export interface CorruptLine { source: string; lineNo: number; reason: string }

export interface Report {
  sources: string[];
  sessions: number;
  messages: number;
  corrupt: CorruptLine[];
  filters: ReportFilters;
  methods: MethodStats[];
  slowest: SlowRequest[];
  /** Raw latencies per `dir method`, for the HTML distribution charts. */
  latencies: Record<string, number[]>;
}

const round3 = (x: number): number => Math.round(x * 1000) / 1000;

/** Linear interpolation between closest ranks on sorted values (SQL quantile_cont). */
export function quantile(sorted: ArrayLike<number>, q: number): number {
  const n = sorted.length;
  if (n === 0) return NaN;
  const pos = (n - 1) * q;
  const lo = Math.floor(pos);
  const hi = Math.min(lo + 1, n - 1);
  return sorted[lo] + (sorted[hi] - sorted[lo]) * (pos - lo);
}

interface PendingRequest { firstByteMs: number; lastByteMs: number; forwardedMs: number; kernel: Record<string, number | null> | null }

const num = (v: unknown): number | null => (typeof v === 'number' && Number.isFinite(v) ? v : null);
const isDir = (v: unknown): v is Direction => v === 'c2s' || v === 's2c';
const other = (d: Direction): Direction => (d === 'c2s' ? 's2c' : 'c2s');

/** A line's `kernel` object with non-numbers as null; null when it has none. */
export function kernelOf(v: unknown): Record<string, number | null> | null {
  if (v === null || typeof v !== 'object' || Array.isArray(v)) return null;
  const out: Record<string, number | null> = {};
  for (const [k, x] of Object.entries(v as Record<string, unknown>)) out[k] = num(x);
  return out;
}

export class ReportBuilder {
  private readonly methods = new Map<string, MethodTally<number[]>>();
  /** Requests waiting for their response, per session: only the in-flight ones are held. */
  private readonly pending = new Map<string, Map<string, PendingRequest>>();
  private readonly sessions = new Set<string>();
  private readonly slowest: SlowRequest[] = [];
  private readonly corrupt: CorruptLine[] = [];
  private readonly sources = new Set<string>();
  private messages = 0;

  constructor(private readonly filters: ReportFilters) {}

  addCorrupt(line: CorruptLine): void {
    this.sources.add(line.source);
    this.corrupt.push(line);
  }

  add(line: Record<string, unknown>, source: string, lineNo: number): void {
    this.sources.add(source);
    const session = `${source}\u0000${sessionOf(line)}`;
    if (line.msg === 'session start') { this.sessions.add(session); this.pending.delete(session); return; }
    if (line.msg === 'session end') { this.pending.delete(session); return; }
    if (line.msg !== 'message') return;
    const dir = line.dir;
    const method = typeof line.method === 'string' ? line.method : null;
    if (!isDir(dir) || method === null) return;
    const time = num(line.time) ?? 0;
    const f = this.filters;
    if (f.method !== null && method !== f.method) return;
    if ((f.sinceMs !== null && time < f.sinceMs) || (f.untilMs !== null && time > f.untilMs)) return;
    this.sessions.add(session);
    this.messages++;
    const id = typeof line.id === 'number' || typeof line.id === 'string' ? line.id : null;
    const key = (d: Direction): string => `${d} ${typeof id} ${String(id)}`;
    if (line.kind === 'request' || line.kind === 'notification') {
      this.entry(dir, method, line.kind).count++;
      if (line.kind === 'request' && id !== null) {
        let p = this.pending.get(session);
        if (p === undefined) { p = new Map(); this.pending.set(session, p); }
        p.set(key(dir), {
          firstByteMs: num(line.firstByteMs) ?? 0, lastByteMs: num(line.lastByteMs) ?? 0,
          forwardedMs: num(line.forwardedMs) ?? 0, kernel: kernelOf(line.kernel),
        });
      }
      return;
    }
    const latencyMs = num(line.latencyMs);
    if (line.kind !== 'response' || latencyMs === null) return;
    const reqDir = other(dir);
    const req = this.pending.get(session)?.get(key(reqDir)) ?? null;
    if (req !== null) this.pending.get(session)!.delete(key(reqDir));
    const kernel = kernelOf(line.kernel) ?? req?.kernel ?? null;
    this.entry(reqDir, method, 'request').answer(latencyMs, line.isError === true, line.cancelled === true, kernel);
    this.considerSlow({
      dir: reqDir, method, id, latencyMs, isError: line.isError === true, session: sessionOf(line),
      time, source, lineNo, phases: req === null ? [] : phasesOf(reqDir, req, line), kernel,
    });
  }

  result(): Report {
    const rows: MethodStats[] = [];
    const latencies: Record<string, number[]> = {};
    for (const e of this.methods.values()) {
      const sorted = Float64Array.from(e.latencies).sort();
      const has = sorted.length > 0;
      const row: MethodStats = {
        dir: e.dir, method: e.method, kind: e.kind, count: e.count, answered: e.answered, errors: e.errors, cancelled: e.cancelled,
        p50Ms: has ? round3(quantile(sorted, 0.5)) : null,
        p90Ms: has ? round3(quantile(sorted, 0.9)) : null,
        p99Ms: has ? round3(quantile(sorted, 0.99)) : null,
        maxMs: has ? round3(sorted[sorted.length - 1]) : null,
      };
      if (e.kernel !== null) {
        row.kernel = {};
        for (const [part, vs] of e.kernel) {
          const s = Float64Array.from(vs).sort();
          row.kernel[part] = { p50: round3(quantile(s, 0.5)), p99: round3(quantile(s, 0.99)) } satisfies PartStats;
        }
      }
      rows.push(row);
      if (has) latencies[`${e.dir} ${e.method}`] = Array.from(sorted);
    }
    rows.sort((a, b) => (b.p50Ms ?? -1) - (a.p50Ms ?? -1) || b.count - a.count || a.method.localeCompare(b.method) || a.dir.localeCompare(b.dir));
    return {
      sources: [...this.sources], sessions: this.sessions.size, messages: this.messages, corrupt: this.corrupt,
      filters: this.filters, methods: rows, slowest: this.slowest, latencies,
    };
  }

  private considerSlow(r: SlowRequest): void {
    const n = this.filters.slowest;
    if (n <= 0) return;
    if (this.slowest.length >= n && r.latencyMs <= this.slowest[this.slowest.length - 1].latencyMs) return;
    let i = this.slowest.findIndex((s) => s.latencyMs < r.latencyMs);
    if (i < 0) i = this.slowest.length;
    this.slowest.splice(i, 0, r);
    if (this.slowest.length > n) this.slowest.pop();
  }

  private entry(dir: Direction, method: string, kind: 'request' | 'notification'): MethodTally<number[]> {
    const key = `${dir} ${method}`;
    let e = this.methods.get(key);
    if (e === undefined) { e = new MethodTally<number[]>(dir, method, kind, () => []); this.methods.set(key, e); }
    else if (kind === 'request') e.kind = 'request';
    return e;
  }
}

/** The five phases from the request's first byte read to the response's last byte forwarded. */
function phasesOf(reqDir: Direction, req: PendingRequest, resp: Record<string, unknown>): Phase[] {
  const t0 = req.firstByteMs;
  const rf = num(resp.firstByteMs) ?? req.forwardedMs;
  const rl = num(resp.lastByteMs) ?? rf;
  const rw = num(resp.forwardedMs) ?? rl;
  const at = (x: number): number => round3(x - t0);
  return [
    { name: 'request read', startMs: 0, endMs: at(req.lastByteMs) },
    { name: 'request forwarded', startMs: at(req.lastByteMs), endMs: at(req.forwardedMs) },
    { name: reqDir === 'c2s' ? 'server working' : 'editor working', startMs: at(req.forwardedMs), endMs: at(rf) },
    { name: 'response read', startMs: at(rf), endMs: at(rl) },
    { name: 'response forwarded', startMs: at(rl), endMs: at(rw) },
  ];
}
