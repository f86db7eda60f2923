// The sessions a report covers laid out in time, for `lsptap report --trace` (Trace Event
// Format, trace-events.ts) and the HTML report's timeline (timeline-svg.ts): each answered
// request with its parts, the server's children for their lifetimes, notifications as
// instants. Times are ms after the earliest session's start, so several sessions (or logs)
// share one axis by their wall clocks.
//
// Requests are packed into lanes so that none overlaps another in its lane (a trace viewer
// nests slices on one track, so overlapping requests there would be drawn as one inside the
// other); children get one track each (their pid), being few and long-lived.

import type { Direction } from '../model/frame';
import type { KernelChild } from '../model/record';
import { childName } from '../sinks/kernel-text';
import { EarliestInstants } from './earliest-instants';
import type { AnsweredView, Phase, ReportFilters, SlowRequest } from './aggregate';

export interface TimelinePart { name: string; startMs: number; endMs: number }

export interface TimelineRequest {
  method: string;
  dir: Direction;
  id: number | string | null;
  latencyMs: number;
  isError: boolean;
  /** The sentence of --summary, when the log has kernel timing. */
  explained: string | null;
  startMs: number;
  endMs: number;
  parts: TimelinePart[];
  lane: number;
}

export interface TimelineChild {
  pid: number;
  /** As the sentences name it: `go list`. */
  name: string;
  args: string[];
  startMs: number;
  endMs: number;
  /** Still running when the last window that saw it ended (its end is that window's). */
  running: boolean;
  cpuUs: number | null;
  exitCode: number | null;
}

export interface TimelineInstant { method: string; dir: Direction; atMs: number }

export interface TimelineSession {
  source: string;
  session: string;
  /** Epoch ms of its start; its times are offset by (startEpochMs - the timeline's origin). */
  startEpochMs: number;
  requests: TimelineRequest[];
  lanes: number;
  children: TimelineChild[];
  /** The earliest notifications, all of them unless the builder kept fewer (maxNotifications). */
  notifications: TimelineInstant[];
  /** How many notifications the session had, and when its last one was (ms on the timeline's axis; null: none). */
  notificationCount: number;
  lastNotificationMs: number | null;
  /** How many answered requests the session had: `requests` holds only the longest of them (maxRequests). */
  requestCount: number;
}

export interface Timeline {
  /** Epoch ms that time 0 stands for. */
  originEpochMs: number;
  sessions: TimelineSession[];
}

/** What the timeline keeps of an answered request. */
type KeptRequest = Pick<SlowRequest, 'method' | 'dir' | 'id' | 'latencyMs' | 'isError' | 'explained' | 'phases'>;

interface Building {
  source: string;
  session: string;
  startEpochMs: number | null;
  /** Epoch ms minus firstByteMs of a message line, when session start is missing (a cut log). */
  fallbackEpochMs: number | null;
  requests: Array<{ r: KeptRequest; atMs: number }>;
  children: Map<number, TimelineChild>;
  /** The earliest notifications, each coded by instantCode. */
  notifications: EarliestInstants;
  notificationCount: number;
  lastNotificationMs: number | null;
  requestCount: number;
}

const num = (v: unknown): number | null => (typeof v === 'number' && Number.isFinite(v) ? v : null);
const round3 = (x: number): number => Math.round(x * 1000) / 1000;

export class TimelineBuilder implements AnsweredView {
  private readonly sessions = new Map<string, Building>();
  private held = 0;
  /** The session of(...) found last. */
  private last: Building | null = null;
  /** Notification methods by index (instantCode). */
  private readonly instantMethods: string[] = [];
  private readonly instantIndex = new Map<string, number>();
  /** Once pruned, a request shorter than this cannot be among the longest maxRequests. */
  private floorMs = -Infinity;

  /**
   * maxRequests: keep only the longest this many (the HTML draws no more); null keeps all
   * (--trace); 0 builds no timeline (a text report), so a month's lines leave nothing here.
   * maxNotifications: per session, keep only the earliest this many (the rest are counted).
   */
  constructor(private readonly filters: ReportFilters, private readonly maxRequests: number | null = null, private readonly maxNotifications: number | null = maxRequests) {}

  private of(source: string, session: string): Building {
    // A log's lines come a session at a time: the last one found saves a key per line.
    const last = this.last;
    if (last !== null && last.session === session && last.source === source) return last;
    const key = `${source}\u0000${session}`;
    let b = this.sessions.get(key);
    if (b === undefined) {
      b = { source, session, startEpochMs: null, fallbackEpochMs: null, requests: [], children: new Map(), notifications: new EarliestInstants(this.maxNotifications), notificationCount: 0, lastNotificationMs: null, requestCount: 0 };
      this.sessions.set(key, b);
    }
    this.last = b;
    return b;
  }

  /** Every log line: session starts and notifications (requests come through add). */
  addLine(line: Record<string, unknown>, source: string): void {
    if (this.maxRequests === 0) return;
    const session = typeof line.session === 'string' ? line.session : '';
    if (line.msg === 'session start') {
      const t = typeof line.startTime === 'string' ? Date.parse(line.startTime) : NaN;
      if (!Number.isNaN(t)) this.of(source, session).startEpochMs = t;
      return;
    }
    if (line.msg !== 'message') return;
    const b = this.of(source, session);
    const first = num(line.firstByteMs);
    const time = num(line.time);
    if (b.fallbackEpochMs === null && first !== null && time !== null) b.fallbackEpochMs = time - first;
    if (line.kind !== 'notification' || typeof line.method !== 'string' || first === null) return;
    if (line.dir !== 'c2s' && line.dir !== 's2c') return;
    const f = this.filters;
    if (f.method !== null && line.method !== f.method) return;
    if (time !== null && ((f.sinceMs !== null && time < f.sinceMs) || (f.untilMs !== null && time > f.untilMs))) return;
    b.notificationCount++;
    if (b.lastNotificationMs === null || first > b.lastNotificationMs) b.lastNotificationMs = first;
    b.notifications.push(first, this.instantCode(line.method, line.dir));
  }

  /**
   * An answered request the aggregate saw (it applied the filters): counted for the session,
   * and whether one this long would be kept now (the aggregate builds only those).
   */
  keeps(latencyMs: number, source: string, session: string): boolean {
    if (this.maxRequests === 0) return false;
    this.of(source, session).requestCount++;
    return latencyMs >= this.floorMs;
  }

  /** An answered request the aggregate saw (it applied the filters) and keeps() took. */
  add(r: SlowRequest): void {
    if (r.atMs === null || r.phases.length === 0 || r.latencyMs < this.floorMs) return;
    // What the timeline draws, not the request's kernel object and children (the children
    // came through addChildren): kept requests live long, and a month's run keeps thousands.
    const kept: KeptRequest = { method: r.method, dir: r.dir, id: r.id, latencyMs: r.latencyMs, isError: r.isError, explained: r.explained, phases: r.phases };
    this.of(r.source, r.session).requests.push({ r: kept, atMs: r.atMs });
    if (this.maxRequests !== null && ++this.held > 2 * this.maxRequests) this.prune(this.maxRequests);
  }

  /** The children of every answered request, whether or not the request is kept. */
  addChildren(source: string, session: string, children: KernelChild[], windowMs: number, windowEndMs: number): void {
    if (this.maxRequests === 0) return;
    const b = this.of(source, session);
    for (const c of children) this.addChild(b, c, windowMs, windowEndMs);
  }

  /** Keep the longest max requests over all sessions (amortised: runs once per max additions). */
  private prune(max: number): void {
    const all = [...this.sessions.values()].flatMap((b) => b.requests.map((x) => x.r.latencyMs)).sort((a, b) => b - a);
    this.floorMs = all[max - 1] ?? -Infinity;
    this.held = 0;
    for (const b of this.sessions.values()) {
      b.requests = b.requests.filter((x) => x.r.latencyMs >= this.floorMs);
      this.held += b.requests.length;
    }
  }

  /** A notification's method and direction as one number: the method's index, then the direction's bit. */
  private instantCode(method: string, dir: Direction): number {
    let i = this.instantIndex.get(method);
    if (i === undefined) { i = this.instantMethods.length; this.instantMethods.push(method); this.instantIndex.set(method, i); }
    return (i << 1) | (dir === 'c2s' ? 0 : 1);
  }

  private addChild(b: Building, c: KernelChild, windowMs: number, windowEndMs: number): void {
    if (typeof c.startUs !== 'number') return;
    const next = childOf(c, c.startUs, windowMs, windowEndMs);
    const seen = b.children.get(c.pid);
    // A child seen by several requests: its exit (when one saw it) wins over "still running".
    if (seen === undefined || (seen.running && !next.running)) b.children.set(c.pid, next);
    else if (seen.running) seen.endMs = Math.max(seen.endMs, next.endMs);
  }

  result(): Timeline {
    const built = [...this.sessions.values()].filter((b) => b.requests.length > 0 || b.notifications.length > 0);
    const epoch = (b: Building): number => b.startEpochMs ?? b.fallbackEpochMs ?? 0;
    const origin = built.length === 0 ? 0 : Math.min(...built.map(epoch));
    const sessions = built.map((b): TimelineSession => {
      const shift = epoch(b) - origin;
      const requests = b.requests.map(({ r, atMs }) => requestOf(r, atMs + shift)).sort((x, y) => x.startMs - y.startMs);
      const lanes = packLanes(requests);
      const children = [...b.children.values()].map((c) => ({ ...c, startMs: round3(c.startMs + shift), endMs: round3(c.endMs + shift) })).sort((x, y) => x.startMs - y.startMs);
      const notifications: TimelineInstant[] = [];
      b.notifications.forEach((atMs, code) => notifications.push({ method: this.instantMethods[code >>> 1], dir: (code & 1) === 0 ? 'c2s' : 's2c', atMs: round3(atMs + shift) }));
      notifications.sort((x, y) => x.atMs - y.atMs);
      if (this.maxNotifications !== null && notifications.length > this.maxNotifications) notifications.length = this.maxNotifications;
      const lastNotificationMs = b.lastNotificationMs === null ? null : round3(b.lastNotificationMs + shift);
      return { source: b.source, session: b.session, startEpochMs: epoch(b), requests, lanes, children, notifications, notificationCount: b.notificationCount, lastNotificationMs, requestCount: b.requestCount };
    }).sort((a, b) => a.startEpochMs - b.startEpochMs);
    return { originEpochMs: origin, sessions };
  }
}

/**
 * A child on the timeline: from its fork to its exit, or to the window's end while it still
 * ran there (no exit status). wallUs is its time inside the window, so it ended wallUs after
 * the later of its fork and the window's start.
 */
function childOf(c: KernelChild, startUs: number, windowMs: number, windowEndMs: number): TimelineChild {
  const running = c.exitCode === null && c.signal === null;
  const startMs = round3(windowMs + startUs / 1000);
  return {
    pid: c.pid, name: childName(c), args: c.args, startMs,
    endMs: running ? Math.max(startMs, windowEndMs) : round3(windowMs + Math.max(0, startUs) / 1000 + (c.wallUs ?? 0) / 1000),
    running, cpuUs: c.cpuUs, exitCode: c.exitCode,
  };
}

/** A request spans its parts; each part is kept inside it (rounding never pokes out). */
function requestOf(r: KeptRequest, atMs: number): TimelineRequest {
  const starts = r.phases.map((p: Phase) => p.startMs);
  const ends = r.phases.map((p: Phase) => Math.max(p.startMs, p.endMs));
  const startMs = round3(atMs + Math.min(...starts));
  const endMs = Math.max(startMs, round3(atMs + Math.max(...ends)));
  const clamp = (x: number): number => Math.min(endMs, Math.max(startMs, round3(atMs + x)));
  return {
    method: r.method, dir: r.dir, id: r.id, latencyMs: r.latencyMs, isError: r.isError, explained: r.explained,
    startMs, endMs, lane: 0,
    parts: r.phases.map((p) => ({ name: p.name, startMs: clamp(p.startMs), endMs: Math.max(clamp(p.startMs), clamp(p.endMs)) })),
  };
}

/** First-fit lanes by start time: no two requests in a lane overlap. Returns the lane count. */
function packLanes(requests: TimelineRequest[]): number {
  const laneEnds: number[] = [];
  for (const r of requests) {
    let lane = laneEnds.findIndex((end) => end <= r.startMs);
    if (lane < 0) { lane = laneEnds.length; laneEnds.push(0); }
    laneEnds[lane] = r.endMs;
    r.lane = lane;
  }
  return laneEnds.length;
}
