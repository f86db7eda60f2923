// What `lsptap top` shows, kept up to date from log lines as they arrive: the requests
// waiting for a response, per method counts and latencies (last minute and since the view
// started reading), and the last slow requests with their kernel fields.

import type { Direction } from '../model/frame';
import type { KernelTiming } from '../model/record';
import { ExactTallies } from '../sinks/method-tally';
import { kernelOf } from '../report/aggregate';
import { serverNameOf } from '../model/process-name';

export interface InFlight { session: string; dir: Direction; method: string; id: number | string; sinceMs: number }

export interface Completion { atMs: number; key: string; latencyMs: number }

/** server: the session's server named by what it runs (model/process-name.ts), null when its start was not read. */
export interface SlowOne { atMs: number; server: string | null; dir: Direction; method: string; latencyMs: number; isError: boolean; kernel: KernelTiming | null }

interface SessionState { source: string; startWallMs: number | null; server: string | null; pending: Map<string, InFlight>; ended: boolean }

export const WINDOW_MS = 60_000;

const num = (v: unknown): number | null => (typeof v === 'number' && Number.isFinite(v) ? v : null);
const isDir = (v: unknown): v is Direction => v === 'c2s' || v === 's2c';

export class LiveState {
  private readonly sessions = new Map<string, SessionState>();
  /** Per `dir method`, since reading started. */
  readonly totals = new ExactTallies();
  /** Completions of the last WINDOW_MS, oldest first. */
  private window: Completion[] = [];
  readonly slow: SlowOne[] = [];

  constructor(private readonly slowMs: number, private readonly slowKept = 8) {}

  get sessionCount(): number { return this.sessions.size; }
  get liveSessions(): number { let n = 0; for (const s of this.sessions.values()) if (!s.ended) n++; return n; }

  add(line: Record<string, unknown>, source: string): void {
    const key = `${source}\u0000${typeof line.session === 'string' ? line.session : ''}`;
    if (line.session === 'listener') return;
    if (line.msg === 'session start') {
      const start = typeof line.startTime === 'string' ? Date.parse(line.startTime) : NaN;
      this.sessions.set(key, { source, startWallMs: Number.isNaN(start) ? null : start, server: serverNameOf(line.command), pending: new Map(), ended: false });
      return;
    }
    const s = this.session(key, source);
    if (line.msg === 'session end') { s.ended = true; s.pending.clear(); return; }
    if (line.msg !== 'message' || !isDir(line.dir) || typeof line.method !== 'string') return;
    const method = line.method;
    const id = typeof line.id === 'number' || typeof line.id === 'string' ? line.id : null;
    // The message's own clock (ms since the session's start) put on the wall clock; the
    // line's `time` is when it was logged, a few ms later.
    const first = num(line.firstByteMs);
    const atMs = s.startWallMs !== null && first !== null ? s.startWallMs + first : num(line.time) ?? Date.now();
    if (line.kind === 'request' || line.kind === 'notification') {
      this.totals.of(line.dir, method, line.kind).count++;
      if (line.kind === 'request' && id !== null) s.pending.set(`${line.dir} ${typeof id} ${id}`, { session: typeof line.session === 'string' ? line.session : '', dir: line.dir, method, id, sinceMs: atMs });
      return;
    }
    const latencyMs = num(line.latencyMs);
    if (line.kind !== 'response' || latencyMs === null || id === null) return;
    const reqDir: Direction = line.dir === 'c2s' ? 's2c' : 'c2s';
    s.pending.delete(`${reqDir} ${typeof id} ${id}`);
    const kernel = kernelOf(line.kernel);
    const t = this.totals.of(reqDir, method, 'request');
    t.answer(latencyMs, line.isError === true, line.cancelled === true, kernel);
    const lastMs = num(line.lastByteMs);
    const doneMs = s.startWallMs !== null && lastMs !== null ? s.startWallMs + lastMs : atMs;
    this.window.push({ atMs: doneMs, key: `${reqDir} ${method}`, latencyMs });
    if (latencyMs >= this.slowMs) {
      this.slow.push({ atMs: doneMs, server: s.server, dir: reqDir, method, latencyMs, isError: line.isError === true, kernel });
      if (this.slow.length > this.slowKept) this.slow.shift();
    }
  }

  /** Requests waiting for a response, oldest first. */
  inFlight(): InFlight[] {
    const all: InFlight[] = [];
    for (const s of this.sessions.values()) for (const p of s.pending.values()) all.push(p);
    return all.sort((a, b) => a.sinceMs - b.sinceMs);
  }

  /** Latencies of the last minute per `dir method` (older completions are dropped). */
  lastMinute(nowMs: number): Map<string, number[]> {
    const from = nowMs - WINDOW_MS;
    // Several sessions interleave, so the list is only nearly in order: filter, not cut.
    if (this.window.length > 0 && this.window[0].atMs < from) this.window = this.window.filter((c) => c.atMs >= from);
    const out = new Map<string, number[]>();
    for (const c of this.window) {
      let l = out.get(c.key);
      if (l === undefined) { l = []; out.set(c.key, l); }
      l.push(c.latencyMs);
    }
    return out;
  }

  /**
   * The log was deleted: its sessions are no longer live and leave nothing in flight (no
   * line will ever answer it); what they did stays in the counts.
   */
  logGone(source: string): void {
    for (const s of this.sessions.values()) if (s.source === source) { s.ended = true; s.pending.clear(); }
  }

  private session(key: string, source: string): SessionState {
    let s = this.sessions.get(key);
    if (s === undefined) { s = { source, startWallMs: null, server: null, pending: new Map(), ended: false }; this.sessions.set(key, s); }
    return s;
  }
}
