// Folds message lines from any number of session logs into per-method, per-direction rows
// (the summary's MethodStats shape) and the N slowest requests with their phases. Requests
// still waiting when a log ends without `session end` (the editor killed lsptap, or the
// log was cut) are listed as unanswered (log ended).
//
// Percentiles here are exact, not t-digest: a report reads whole logs after the fact, so it
// can keep one number per answered request and part (value-column.ts: 4 bytes, zeros only
// counted) and sort. A response's phases and explanation are worked out only when it is
// among the slowest so far: a month of logs has millions of responses and lists ten. They use linear
// interpolation between closest ranks (the `quantile_cont` of DuckDB and most SQL engines,
// numpy's default), so an engine reading the same .jsonl files gets the same numbers.

import { explainRequest } from '../sinks/kernel-text';
import type { KernelChild, KernelTiming } from '../model/record';
import type { Direction } from '../model/frame';
import type { MethodStats, PartStats } from '../sinks/summary';
import { ExactTallies } from '../sinks/method-tally';
import { compareText } from '../model/text-order';
import { serverNameOf } from '../model/process-name';
import { quantile } from '../model/quantile';

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

/**
 * One phase of a request, in ms from where the first phase starts (the editor's write with
 * kernel timing, else lsptap's read of the request's first byte). The phases with
 * inLatency add up to the request's latencyMs.
 */
export interface Phase { name: string; startMs: number; endMs: number; inLatency: boolean }

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
  /** Editor's write to editor's read; empty when the request line was not in the log. */
  phases: Phase[];
  /** Where the phases' 0 falls, in ms after its session's start (the log's *Ms clock); null without phases. */
  atMs: number | null;
  /** The server's children alive in its window (kernel timing), for the timeline. */
  children: KernelChild[];
  kernel: Record<string, number | null> | null;
  /** The one-line explanation of where its server time went (docs/kernel-timing.md "How the time is attributed"), or null. */
  explained: string | null;
}

/**
 * A view of the answered requests beside the slowest list (the session timeline). Asked
 * first whether it keeps a request, so the others cost no phases and no sentence.
 */
export interface AnsweredView {
  /** Every answered request with its request line, once: whether one answered after latencyMs would be kept (then add gets it). */
  keeps(latencyMs: number, source: string, session: string): boolean;
  add(r: SlowRequest): void;
  /** Every answered request's children, with its `server working` window in ms of its session's clock. */
  addChildren(source: string, session: string, children: KernelChild[], windowStartMs: number, windowEndMs: number): void;
}

export interface CorruptLine { source: string; lineNo: number; reason: string }

/** Responses whose latencyMs was left out, by reason, with where the first one was. */
export interface RejectedLatencies { reason: string; count: number; first: string }

/** Corrupt lines kept with their place; past this many only the count grows. */
export const CORRUPT_KEPT = 1000;

/**
 * Why a response's latencyMs cannot be a latency, or null when it can. lsptap writes a
 * finite, non-negative number (or null for a response nobody asked for); anything else
 * was written by hand or by another tool, and one such value would move every percentile
 * and ratio it joins (a negative p50, an "inf" interval). A year bounds what one request
 * can wait even in a month-long daemon log, and keeps ratios of medians finite.
 */
export function latencyProblem(v: unknown): string | null {
  if (typeof v !== 'number') return 'latencyMs is not a number';
  if (!Number.isFinite(v)) return 'latencyMs is not finite';
  if (v < 0) return 'latencyMs is negative';
  if (v > LATENCY_MAX_MS) return 'latencyMs is over a year';
  return null;
}

const LATENCY_MAX_MS = 365 * 86_400_000;

/** A request whose log ended (no `session end`) before its response. */
export interface UnansweredRequest {
  dir: Direction;
  method: string;
  id: number | string;
  session: string;
  source: string;
  lineNo: number;
  /** Epoch ms of the request line. */
  time: number;
  /** From the request line to the session's last line: it waited at least this long. */
  waitedAtLeastMs: number;
  reason: 'log ended';
}

/** A method's row: the summary's fields, plus requests left unanswered when their log ended. */
export type ReportRow = MethodStats & { unanswered: number };

export interface Report {
  sources: string[];
  sessions: number;
  messages: number;
  /** The first CORRUPT_KEPT corrupt lines; corruptCount counts them all. */
  corrupt: CorruptLine[];
  corruptCount: number;
  /** Responses left out of the latencies (latencyProblem), most frequent reason first. */
  rejected: RejectedLatencies[];
  filters: ReportFilters;
  methods: ReportRow[];
  slowest: SlowRequest[];
  /** Requests with no response in logs that end without `session end`, oldest first. */
  unanswered: UnansweredRequest[];
  /** Raw latencies per `dir method`, for the HTML distribution charts. */
  latencies: Record<string, number[]>;
}

const round3 = (x: number): number => Math.round(x * 1000) / 1000;


interface PendingRequest {
  method: string; id: number | string; time: number; lineNo: number;
  firstByteMs: number; lastByteMs: number; forwardedMs: number;
  /** The request line's `kernel` object as parsed (kernelOf when it is needed). */
  kernel: object | null;
}

const isObject = (v: unknown): v is object => v !== null && typeof v === 'object' && !Array.isArray(v);

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
  private readonly methods = new ExactTallies();
  /** Requests waiting for their response, per session: only the in-flight ones are held. */
  private readonly pending = new Map<string, Map<string, PendingRequest>>();
  private readonly sessions = new Set<string>();
  /** Each session's server, named by what it runs (from `session start`'s command). */
  private readonly servers = new Map<string, string>();
  /** Epoch ms of each session's last line, for how long an unanswered request waited. */
  private readonly lastTime = new Map<string, number>();
  private readonly slowest: SlowRequest[] = [];
  private readonly corrupt: CorruptLine[] = [];
  private corruptCount = 0;
  private readonly rejected = new Map<string, RejectedLatencies>();
  private readonly sources = new Set<string>();
  private messages = 0;

  /** answeredView: a view of the answered requests beside the slowest list (the timeline). */
  constructor(private readonly filters: ReportFilters, private readonly answeredView: AnsweredView | null = null) {}

  addCorrupt(line: CorruptLine): void {
    this.sources.add(line.source);
    this.corruptCount++;
    if (this.corrupt.length < CORRUPT_KEPT) this.corrupt.push(line);
  }

  add(line: Record<string, unknown>, source: string, lineNo: number): void {
    this.sources.add(source);
    const session = `${source}\u0000${sessionOf(line)}`;
    const t = num(line.time);
    if (t !== null && t > (this.lastTime.get(session) ?? -Infinity)) this.lastTime.set(session, t);
    if (line.msg === 'session start') {
      this.sessions.add(session); this.pending.delete(session);
      const name = serverNameOf(line.command);
      if (name !== null) this.servers.set(session, name);
      return;
    }
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
      this.methods.of(dir, method, line.kind).count++;
      if (line.kind === 'request' && id !== null) {
        let p = this.pending.get(session);
        if (p === undefined) { p = new Map(); this.pending.set(session, p); }
        p.set(key(dir), {
          method, id, time, lineNo, firstByteMs: num(line.firstByteMs) ?? 0, lastByteMs: num(line.lastByteMs) ?? 0,
          forwardedMs: num(line.forwardedMs) ?? 0, kernel: isObject(line.kernel) ? line.kernel : null,
        });
      }
      return;
    }
    if (line.kind !== 'response' || line.latencyMs === null || line.latencyMs === undefined) return;
    const reqDir = other(dir);
    const req = this.pending.get(session)?.get(key(reqDir)) ?? null;
    if (req !== null) this.pending.get(session)!.delete(key(reqDir));
    const problem = latencyProblem(line.latencyMs);
    if (problem !== null) { this.reject(problem, source, lineNo); return; }
    const latencyMs = line.latencyMs as number;
    const kernel = isObject(line.kernel) ? line.kernel : req?.kernel ?? null;
    this.methods.of(reqDir, method, 'request').answer(latencyMs, line.isError === true, line.cancelled === true, kernel);
    // A month has millions of answers: phases only for the slowest, the ones the view keeps
    // and those with children (the view draws every child), the rest of a request only for
    // the first two.
    const view = this.answeredView;
    const slow = this.wouldKeep(latencyMs);
    // Only a request with its request line has phases to draw, so only those are counted.
    const viewKeeps = view !== null && req !== null && view.keeps(latencyMs, source, sessionOf(line));
    const rawKernel = isObject(line.kernel) ? line.kernel as KernelTiming : null;
    const children = Array.isArray(rawKernel?.children) ? rawKernel.children : [];
    if (!slow && !viewKeeps && (view === null || children.length === 0)) return;
    const timed = req === null ? null : phasesOf(reqDir, req, line);
    if (view !== null && timed !== null && children.length > 0) {
      const working = timed.phases.find((p) => p.name === 'server working');
      if (working !== undefined) view.addChildren(source, sessionOf(line), children, timed.atMs + working.startMs, timed.atMs + working.endMs);
    }
    if (!slow && !viewKeeps) return;
    const answered: SlowRequest = {
      dir: reqDir, method, id, latencyMs, isError: line.isError === true, session: sessionOf(line),
      time, source, lineNo, phases: timed?.phases ?? [], atMs: timed?.atMs ?? null, kernel: kernelOf(kernel),
      children, explained: rawKernel !== null ? explainRequest(method, latencyMs, rawKernel, this.servers.get(session)) : null,
    };
    if (slow) this.considerSlow(answered);
    if (viewKeeps) view.add(answered);
  }

  /** Whether a response of `latencyMs` would enter the slowest list. */
  private wouldKeep(latencyMs: number): boolean {
    const n = this.filters.slowest;
    return n > 0 && (this.slowest.length < n || latencyMs > this.slowest[this.slowest.length - 1].latencyMs);
  }

  result(): Report {
    const unanswered = this.loggedUnanswered();
    const unansweredBy = new Map<string, number>();
    for (const u of unanswered) unansweredBy.set(`${u.dir} ${u.method}`, (unansweredBy.get(`${u.dir} ${u.method}`) ?? 0) + 1);
    const rows: ReportRow[] = [];
    const latencies: Record<string, number[]> = {};
    for (const e of this.methods.values()) {
      const sorted = e.latencies.toSorted();
      const has = sorted.length > 0;
      const row: ReportRow = {
        dir: e.dir, method: e.method, kind: e.kind, count: e.count, answered: e.answered, errors: e.errors, cancelled: e.cancelled,
        unanswered: unansweredBy.get(`${e.dir} ${e.method}`) ?? 0,
        p50Ms: has ? round3(quantile(sorted, 0.5)) : null,
        p90Ms: has ? round3(quantile(sorted, 0.9)) : null,
        p99Ms: has ? round3(quantile(sorted, 0.99)) : null,
        maxMs: has ? round3(sorted[sorted.length - 1]) : null,
      };
      if (e.kernel !== null) {
        row.kernel = {};
        for (const [part, vs] of e.kernel) {
          const [p50, p99] = vs.quantiles([0.5, 0.99]);
          row.kernel[part] = { p50: round3(p50), p99: round3(p99) } satisfies PartStats;
        }
      }
      rows.push(row);
      if (has) latencies[`${e.dir} ${e.method}`] = Array.from(sorted);
    }
    rows.sort((a, b) => (b.p50Ms ?? -1) - (a.p50Ms ?? -1) || b.count - a.count || compareText(a.method, b.method) || compareText(a.dir, b.dir));
    return {
      sources: [...this.sources], sessions: this.sessions.size, messages: this.messages, corrupt: this.corrupt, corruptCount: this.corruptCount,
      rejected: [...this.rejected.values()].sort((a, b) => b.count - a.count),
      filters: this.filters, methods: rows, slowest: this.slowest, unanswered, latencies,
    };
  }

  /** What is still pending: only sessions whose `session end` never came keep entries. */
  private loggedUnanswered(): UnansweredRequest[] {
    const out: UnansweredRequest[] = [];
    for (const [session, reqs] of this.pending) {
      const [source, id] = session.split('\u0000');
      const last = this.lastTime.get(session) ?? 0;
      for (const [k, r] of reqs) {
        out.push({
          dir: k.startsWith('c2s') ? 'c2s' : 's2c', method: r.method, id: r.id, session: id, source, lineNo: r.lineNo,
          time: r.time, waitedAtLeastMs: Math.max(0, last - r.time), reason: 'log ended',
        });
      }
    }
    return out.sort((a, b) => a.time - b.time || a.lineNo - b.lineNo);
  }

  private reject(reason: string, source: string, lineNo: number): void {
    const r = this.rejected.get(reason);
    if (r === undefined) this.rejected.set(reason, { reason, count: 1, first: `${source}:${lineNo}` });
    else r.count++;
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
}

/**
 * The phases of one request, each bounded by a syscall's return (docs/commands.md "lsptap report"). With
 * the kernel's stamps (`clock: "kernel"` and the server's parts on the response line):
 * editor to lsptap pipe, request forwarded, pipe to server, server working, server writing,
 * pipe to lsptap, response forwarded, lsptap to editor pipe. Otherwise lsptap's five:
 * request read, request forwarded, server (or editor) working, response read, response
 * forwarded. Either way the phases marked inLatency add up to latencyMs.
 */
function phasesOf(reqDir: Direction, req: PendingRequest, resp: Record<string, unknown>): { atMs: number; phases: Phase[] } {
  const rf = num(resp.firstByteMs) ?? req.forwardedMs;
  const rl = num(resp.lastByteMs) ?? rf;
  const rw = num(resp.forwardedMs) ?? rl;
  // The few parts read here, not a copy of the whole kernel object (kernelOf): every
  // response with children comes here for the timeline.
  const k = isObject(resp.kernel) ? resp.kernel as Record<string, unknown> : null;
  const part = (name: string): number | null => (k === null ? null : num(k[name]));
  const parts = k === null ? null : [part('toServerPipeUs'), part('serverUs'), part('serverWriteUs'), part('toLsptapPipeUs')];
  if (reqDir === 'c2s' && resp.clock === 'kernel' && parts !== null && parts.every((x) => x !== null)) {
    const [toServer, server, writing] = (parts as number[]).map((x) => x / 1000);
    const fromEditor = part('fromEditorPipeUs');
    const toEditor = part('toEditorPipeUs');
    const t0 = fromEditor === null ? req.lastByteMs : req.lastByteMs - fromEditor / 1000;
    const at = (x: number): number => round3(x - t0);
    const f = req.forwardedMs;
    // The last part ends at the response's last byte read: rounding of the µs parts stays inside it.
    const out: Phase[] = [];
    if (fromEditor !== null) out.push({ name: 'editor to lsptap pipe', startMs: 0, endMs: at(req.lastByteMs), inLatency: false });
    out.push(
      { name: 'request forwarded', startMs: at(req.lastByteMs), endMs: at(f), inLatency: false },
      { name: 'pipe to server', startMs: at(f), endMs: at(f + toServer), inLatency: true },
      { name: 'server working', startMs: at(f + toServer), endMs: at(f + toServer + server), inLatency: true },
      { name: 'server writing', startMs: at(f + toServer + server), endMs: at(f + toServer + server + writing), inLatency: true },
      { name: 'pipe to lsptap', startMs: at(f + toServer + server + writing), endMs: at(rl), inLatency: true },
      { name: 'response forwarded', startMs: at(rl), endMs: at(rw), inLatency: false },
    );
    if (toEditor !== null) out.push({ name: 'lsptap to editor pipe', startMs: at(rw), endMs: at(rw + toEditor / 1000), inLatency: false });
    return { atMs: round3(t0), phases: out };
  }
  const t0 = req.firstByteMs;
  const at = (x: number): number => round3(x - t0);
  return { atMs: round3(t0), phases: [
    { name: 'request read', startMs: 0, endMs: at(req.lastByteMs), inLatency: false },
    { name: 'request forwarded', startMs: at(req.lastByteMs), endMs: at(req.forwardedMs), inLatency: false },
    { name: reqDir === 'c2s' ? 'server working' : 'editor working', startMs: at(req.forwardedMs), endMs: at(rf), inLatency: true },
    { name: 'response read', startMs: at(rf), endMs: at(rl), inLatency: true },
    { name: 'response forwarded', startMs: at(rl), endMs: at(rw), inLatency: false },
  ] };
}
