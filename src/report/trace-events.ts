// `lsptap report --trace FILE.json`: the timeline (session-timeline.ts) in the Trace Event
// Format that Perfetto (ui.perfetto.dev) and Chrome's about:tracing open. One process per
// session, named for its server; each request a complete ("X") slice on a request track,
// its parts nested inside it on the same track; each child of the server a slice on a
// track of its own (tid = 1,000,000 + its pid) for its lifetime (parts of no duration, such
// as a request read in one chunk, are left out: a viewer would nest them in the next part); notifications instant
// ("i", thread scope) events on one track per direction. Timestamps in µs after the
// earliest session's start, which `metadata.originTime` gives as an ISO time.

import type { Timeline } from './session-timeline';

export interface TraceEvent {
  name: string;
  ph: 'X' | 'i' | 'M';
  pid: number;
  tid: number;
  ts?: number;
  dur?: number;
  cat?: string;
  s?: 't';
  args?: Record<string, unknown>;
}

export interface TraceFile {
  traceEvents: TraceEvent[];
  displayTimeUnit: 'ms';
  metadata: Record<string, unknown>;
}

/** Tracks of a session's process, in the order a viewer lists them (sort_index). */
const NOTIFY_TID: Record<'c2s' | 's2c', number> = { c2s: 900_001, s2c: 900_002 };
const CHILD_TID_BASE = 1_000_000;

const us = (ms: number): number => Math.round(ms * 1000 * 1000) / 1000;

/** How a session's process is named: its server (as --summary says it) and workspace. */
export interface SessionLabel { server: string | null; workspace: string | null }

export function traceEventsOf(timeline: Timeline, labelOf: (source: string, session: string) => SessionLabel, extraMetadata: Record<string, unknown> = {}): TraceFile {
  const events: TraceEvent[] = [];
  timeline.sessions.forEach((s, n) => {
    const pid = n + 1;
    const label = labelOf(s.source, s.session);
    const meta = (tid: number, name: string, value: Record<string, unknown>): void => { events.push({ name, ph: 'M', pid, tid, args: value }); };
    meta(0, 'process_name', { name: `${label.server ?? 'server'} (session ${s.session})` });
    if (label.workspace !== null) meta(0, 'process_labels', { labels: label.workspace });
    meta(0, 'process_sort_index', { sort_index: pid });
    for (let lane = 0; lane < s.lanes; lane++) {
      meta(lane + 1, 'thread_name', { name: lane === 0 ? 'requests' : `requests ${lane + 1}` });
      meta(lane + 1, 'thread_sort_index', { sort_index: lane + 1 });
    }
    for (const r of s.requests) {
      const tid = r.lane + 1;
      events.push({
        name: r.method, cat: 'request', ph: 'X', pid, tid, ts: us(r.startMs), dur: us(r.endMs - r.startMs),
        args: { dir: r.dir, id: r.id, latencyMs: r.latencyMs, isError: r.isError, ...(r.explained === null ? {} : { explained: r.explained }) },
      });
      // A part of no duration is left out: a viewer would nest it in the part starting with it.
      for (const p of r.parts) if (p.endMs > p.startMs) events.push({ name: p.name, cat: 'part', ph: 'X', pid, tid, ts: us(p.startMs), dur: us(p.endMs - p.startMs) });
    }
    for (const c of s.children) {
      const tid = CHILD_TID_BASE + c.pid;
      meta(tid, 'thread_name', { name: `${c.name} (pid ${c.pid})` });
      meta(tid, 'thread_sort_index', { sort_index: tid });
      events.push({
        name: c.name, cat: 'child', ph: 'X', pid, tid, ts: us(c.startMs), dur: us(c.endMs - c.startMs),
        args: { pid: c.pid, args: c.args.join(' '), cpuMs: c.cpuUs === null ? null : c.cpuUs / 1000, exitCode: c.exitCode, ...(c.running ? { stillRunning: true } : {}) },
      });
    }
    const dirs = new Set(s.notifications.map((x) => x.dir));
    for (const dir of dirs) {
      meta(NOTIFY_TID[dir], 'thread_name', { name: dir === 'c2s' ? 'notifications from the editor' : 'notifications from the server' });
      meta(NOTIFY_TID[dir], 'thread_sort_index', { sort_index: NOTIFY_TID[dir] });
    }
    for (const x of s.notifications) events.push({ name: x.method, cat: 'notification', ph: 'i', s: 't', pid, tid: NOTIFY_TID[x.dir], ts: us(x.atMs) });
  });
  return {
    traceEvents: events, displayTimeUnit: 'ms',
    metadata: { producer: 'lsptap report --trace', originTime: new Date(timeline.originEpochMs).toISOString(), ...extraMetadata },
  };
}
