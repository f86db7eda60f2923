// The HTML report's timelines, drawn here as inline SVG (the page runs no script from
// elsewhere and its CSP allows none): the session view (request lanes, the server's
// children, notification ticks, on one time axis: the same view --trace writes) and, per
// slow request, its parts as a waterfall. Hover text is SVG <title>, so nothing needs a
// script. A day's logs would be millions of shapes: the session view draws at most
// SVG_MAX_SESSIONS sessions (those with the longest requests), SVG_MAX_REQUESTS requests
// (the longest), SVG_MAX_CHILDREN children and SVG_MAX_NOTIFICATIONS notifications, and
// says so; the --trace file has everything.

import type { Timeline, TimelineRequest } from './session-timeline';
import type { SlowRequest } from './aggregate';

export const SVG_MAX_REQUESTS = 2000;
export const SVG_MAX_CHILDREN = 500;
export const SVG_MAX_SESSIONS = 12;
export const SVG_MAX_NOTIFICATIONS = 2000;
/** Lanes drawn per session; requests packed deeper are drawn in the last one. */
const MAX_LANES = 8;

const WIDTH = 1180;
const LABEL_W = 150;
const ROW_H = 16;
const PALETTE = ['#4e79a7', '#f28e2b', '#e15759', '#76b7b2', '#59a14f', '#edc948', '#b07aa1', '#ff9da7', '#9c755f', '#86bcb6'];

const esc = (s: string): string => s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
const f1 = (x: number): string => (Math.round(x * 10) / 10).toString();

export function msText(ms: number): string {
  if (ms < 10) return `${ms.toFixed(2)} ms`;
  if (ms < 1000) return `${ms.toFixed(1)} ms`;
  return `${Math.round(ms).toLocaleString('en-US')} ms`;
}

/** Tick spacing of about 8 labels over span ms, on 1-2-5 steps. */
function tickStep(spanMs: number): number {
  const raw = spanMs / 8;
  const decade = Math.pow(10, Math.floor(Math.log10(Math.max(raw, 1e-3))));
  for (const m of [1, 2, 5, 10]) if (m * decade >= raw) return m * decade;
  return 10 * decade;
}

function tickText(ms: number, step: number): string {
  if (step >= 60_000) return `${Math.round(ms / 60_000)} min`;
  if (step >= 1000) return `${+(ms / 1000).toFixed(step >= 10_000 ? 0 : 1)} s`;
  return `${+ms.toFixed(step >= 1 ? 0 : 2)} ms`;
}

function axis(x: (ms: number) => number, fromMs: number, toMs: number, y: number, height: number): string {
  const step = tickStep(toMs - fromMs);
  const out: string[] = [];
  for (let t = Math.ceil(fromMs / step) * step; t <= toMs; t += step) {
    out.push(`<line x1="${f1(x(t))}" x2="${f1(x(t))}" y1="${y}" y2="${y + height}" class="grid"/><text x="${f1(x(t))}" y="${y - 3}" class="tick">${esc(tickText(t, step))}</text>`);
  }
  return out.join('');
}

/** A color per method, in the order they first appear. */
function colorsOf(methods: string[]): Map<string, string> {
  const m = new Map<string, string>();
  for (const x of methods) if (!m.has(x)) m.set(x, PALETTE[m.size % PALETTE.length]);
  return m;
}

/** The whole report's timeline: one block of rows per session. '' when nothing is timed. */
export function sessionTimelineSvg(whole: Timeline, serverName: (source: string, session: string) => string): { svg: string; note: string | null } {
  const longest = (s: Timeline['sessions'][number]): number => Math.max(0, ...s.requests.map((r) => r.endMs - r.startMs));
  const kept = whole.sessions.length <= SVG_MAX_SESSIONS ? whole.sessions
    : [...whole.sessions].sort((a, b) => longest(b) - longest(a)).slice(0, SVG_MAX_SESSIONS).sort((a, b) => a.startEpochMs - b.startEpochMs);
  const timeline: Timeline = { originEpochMs: whole.originEpochMs, sessions: kept };
  const all = timeline.sessions.flatMap((s) => s.requests);
  if (all.length === 0) return { svg: '', note: null };
  const shownRequests = new Set<TimelineRequest>(all.length <= SVG_MAX_REQUESTS ? all : [...all].sort((a, b) => (b.endMs - b.startMs) - (a.endMs - a.startMs)).slice(0, SVG_MAX_REQUESTS));
  const fromMs = Math.min(...timeline.sessions.map((s) => Math.min(s.requests[0]?.startMs ?? Infinity, s.notifications[0]?.atMs ?? Infinity)));
  const toMs = Math.max(...timeline.sessions.flatMap((s) => [...s.requests.map((r) => r.endMs), ...s.children.map((c) => c.endMs), s.lastNotificationMs ?? -Infinity]));
  const span = Math.max(toMs - fromMs, 1);
  const x = (ms: number): number => LABEL_W + ((ms - fromMs) / span) * (WIDTH - LABEL_W - 10);
  const colors = colorsOf(all.map((r) => r.method));
  const rows: string[] = [];
  let y = 18;
  let childrenShown = 0;
  let childrenTotal = 0;
  let notificationsShown = 0;
  let notificationsTotal = 0;
  for (const s of timeline.sessions) {
    rows.push(`<text x="0" y="${y + 11}" class="session">${esc(serverName(s.source, s.session))} ${esc(s.session)}</text>`);
    y += ROW_H;
    const lanes = Math.min(s.lanes, MAX_LANES);
    for (let lane = 0; lane < lanes; lane++) {
      rows.push(`<text x="4" y="${y + 11}" class="lane">${lane === 0 ? 'requests' : ''}</text>`);
      for (const r of s.requests) {
        if (Math.min(r.lane, MAX_LANES - 1) !== lane || !shownRequests.has(r)) continue;
        const w = Math.max(1, x(r.endMs) - x(r.startMs));
        rows.push(`<rect x="${f1(x(r.startMs))}" y="${y + 2}" width="${f1(w)}" height="${ROW_H - 4}" fill="${colors.get(r.method)}"${r.isError ? ' class="error"' : ''}><title>${esc(`${r.method} ${String(r.id)}: ${msText(r.latencyMs)}${r.explained === null ? '' : `\n${r.explained}`}`)}</title></rect>`);
      }
      y += ROW_H;
    }
    childrenTotal += s.children.length;
    if (s.children.length > 0) {
      // Children are packed into as few rows as they allow, each row one name at a time.
      const rowEnds: number[] = [];
      for (const c of s.children) {
        if (childrenShown >= SVG_MAX_CHILDREN) break;
        let row = rowEnds.findIndex((end) => end <= c.startMs);
        if (row < 0) { if (rowEnds.length >= MAX_LANES) row = MAX_LANES - 1; else { row = rowEnds.length; rowEnds.push(0); } }
        rowEnds[row] = Math.max(rowEnds[row], c.endMs);
        const w = Math.max(1, x(c.endMs) - x(c.startMs));
        rows.push(`<rect x="${f1(x(c.startMs))}" y="${y + row * ROW_H + 2}" width="${f1(w)}" height="${ROW_H - 4}" class="child"><title>${esc(`${c.name} (pid ${c.pid}): ${msText(c.endMs - c.startMs)}${c.running ? ', still running' : ''}\n${c.args.join(' ')}`)}</title></rect>`);
        childrenShown++;
      }
      rows.push(`<text x="4" y="${y + 11}" class="lane">children</text>`);
      y += Math.max(1, rowEnds.length) * ROW_H;
    }
    if (s.notifications.length > 0) {
      rows.push(`<text x="4" y="${y + 11}" class="lane">notifications</text>`);
      notificationsTotal += s.notificationCount;
      for (const n of s.notifications) {
        if (notificationsShown >= SVG_MAX_NOTIFICATIONS) break;
        notificationsShown++;
        rows.push(`<line x1="${f1(x(n.atMs))}" x2="${f1(x(n.atMs))}" y1="${y + 3}" y2="${y + ROW_H - 3}" class="${n.dir === 'c2s' ? 'notify-c2s' : 'notify-s2c'}"><title>${esc(`${n.method} (${n.dir === 'c2s' ? 'from the editor' : 'from the server'})`)}</title></line>`);
      }
      y += ROW_H;
    }
    y += 6;
  }
  const height = y + 4;
  const svg = `<svg class="timeline" viewBox="0 0 ${WIDTH} ${height}" width="100%" role="img" aria-label="session timeline" xmlns="http://www.w3.org/2000/svg">${axis(x, fromMs, toMs, 14, height - 14)}${rows.join('')}</svg>`;
  const notes: string[] = [];
  if (kept.length < whole.sessions.length) notes.push(`the ${kept.length} sessions with the longest requests of ${whole.sessions.length.toLocaleString('en-US')} are drawn`);
  if (notificationsShown < notificationsTotal) notes.push(`${notificationsShown.toLocaleString('en-US')} of ${notificationsTotal.toLocaleString('en-US')} notifications are drawn`);
  // Of every request the drawn sessions had: the builder keeps only the longest, so `all` is not the count.
  const requestsTotal = Math.max(all.length, timeline.sessions.reduce((n, s) => n + s.requestCount, 0));
  if (shownRequests.size < requestsTotal) notes.push(`the ${shownRequests.size.toLocaleString('en-US')} longest of ${requestsTotal.toLocaleString('en-US')} requests are drawn`);
  if (childrenShown < childrenTotal) notes.push(`${childrenShown} of ${childrenTotal} children are drawn`);
  return { svg, note: notes.length === 0 ? null : `${notes.join('; ')} (the --trace file has them all).` };
}

/** Names of the server's blocked split (docs/kernel-timing.md "How the time is attributed"), as the sentences say them. */
const SERVER_SPLIT: Array<[string, string]> = [
  ['serverBusyUs', 'on CPU or waiting for it'], ['blockedOnChildUs', 'waiting for children'],
  ['blockedOnDiskUs', 'waiting for the disk'], ['blockedOtherUs', 'waiting for something else'],
];

/** One slow request's parts as a waterfall, and the server's time split beneath it. */
export function requestPartsSvg(s: SlowRequest): string {
  if (s.phases.length === 0) return '';
  const end = Math.max(...s.phases.map((p) => p.endMs), 0.001);
  const x = (ms: number): number => LABEL_W + (Math.max(0, ms) / end) * (WIDTH - LABEL_W - 110);
  const rows = s.phases.map((p, i) => {
    const y = 18 + i * ROW_H;
    const w = Math.max(1, x(p.endMs) - x(p.startMs));
    return `<text x="0" y="${y + 11}" class="lane">${esc(p.name)}</text><rect x="${f1(x(p.startMs))}" y="${y + 2}" width="${f1(w)}" height="${ROW_H - 4}" fill="${PALETTE[i % PALETTE.length]}"><title>${esc(`${p.name}: ${msText(p.endMs - p.startMs)} (at ${msText(p.startMs)})`)}</title></rect><text x="${f1(x(p.startMs) + w + 4)}" y="${y + 11}" class="value">${esc(msText(p.endMs - p.startMs))}</text>`;
  });
  let y = 18 + s.phases.length * ROW_H;
  const k = s.kernel;
  const working = s.phases.find((p) => p.name === 'server working');
  if (k !== null && working !== undefined && typeof k.serverUs === 'number' && typeof k.serverBlockedUs === 'number') {
    const parts = SERVER_SPLIT.map(([key, label]) => [label, key === 'serverBusyUs' ? Math.max(0, k.serverUs! - k.serverBlockedUs!) : k[key] ?? 0] as [string, number]).filter(([, v]) => v > 0);
    const total = parts.reduce((a, [, v]) => a + v, 0);
    if (total > 0) {
      y += 4;
      rows.push(`<text x="0" y="${y + 11}" class="lane">server's time, split</text>`);
      let at = x(working.startMs);
      const full = x(working.endMs) - at;
      parts.forEach(([label, v], i) => {
        const w = Math.max(1, (v / total) * full);
        rows.push(`<rect x="${f1(at)}" y="${y + 2}" width="${f1(w)}" height="${ROW_H - 4}" class="split-${i}"><title>${esc(`${label}: ${msText(v / 1000)}`)}</title></rect>`);
        at += w;
      });
      y += ROW_H;
    }
  }
  const height = y + 6;
  return `<svg class="parts" viewBox="0 0 ${WIDTH} ${height}" width="100%" role="img" aria-label="parts of ${esc(s.method)}" xmlns="http://www.w3.org/2000/svg">${axis(x, 0, end, 14, height - 14)}${rows.join('')}</svg>`;
}
