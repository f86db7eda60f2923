// `lsptap report --html FILE`: one self-contained page to attach to a bug, the answer first.
// It opens with the session (server and version, workspace, when and how long, requests,
// machine, lsptap's own cost) and the slowest requests, each in the sentence --summary
// prints, each opening onto its parts (an SVG waterfall), the server's children, and a place
// for its profile (HtmlReportOptions.profileOf). Then the session's timeline (SVG, the view
// --trace writes), the per-method table in ms, and latency distributions for methods with
// MIN_CHART_REQUESTS answers or more (Chart.js's UMD build inlined, only then). Nothing is
// fetched: the CSP allows inline script and style and data: images only. Per-request detail
// is kept for the slowest N only, so a day's log makes a page of a few hundred KB.

import fs from 'node:fs';
import path from 'node:path';
import type { Report, SlowRequest } from './aggregate';
import type { SessionFacts } from './session-facts';
import { versionText } from './session-facts';
import type { Timeline } from './session-timeline';
import { requestPartsSvg, sessionTimelineSvg } from './timeline-svg';
import { formatMs } from '../sinks/text-table';

/** Chart.js's UMD build, read once. */
export function chartJsSource(): string {
  const main = require.resolve('chart.js');
  return fs.readFileSync(path.join(path.dirname(main), 'chart.umd.min.js'), 'utf8');
}

export interface Histogram { edgesMs: number[]; counts: number[] }

/** Count latencies into 1-2-5 log-spaced bins covering their range. */
export function histogramOf(sortedMs: number[]): Histogram {
  const lo = Math.max(sortedMs[0] ?? 0.01, 0.001);
  const hi = sortedMs[sortedMs.length - 1] ?? 1;
  // 1-2-5 edges from the decade below lo to the first edge above hi.
  const edges: number[] = [];
  for (let decade = Math.pow(10, Math.floor(Math.log10(lo))); edges.length === 0 || edges[edges.length - 1] <= hi; decade *= 10) {
    for (const step of [1, 2, 5]) edges.push(+(step * decade).toPrecision(3));
  }
  while (edges.length > 2 && edges[1] <= lo) edges.shift();
  while (edges.length > 2 && edges[edges.length - 2] > hi) edges.pop();
  const counts = new Array<number>(edges.length - 1).fill(0);
  for (const v of sortedMs) {
    const i = edges.findIndex((e) => v < e) - 1;
    counts[i < 0 ? (v < edges[0] ? 0 : counts.length - 1) : i]++;
  }
  return { edgesMs: edges, counts };
}

/** JSON safe to put inside <script>: no `</script>` or `<!--` can end it early. */
export const scriptJson = (v: unknown): string => JSON.stringify(v).replace(/</g, '\\u003c').replace(/\u2028/g, '\\u2028').replace(/\u2029/g, '\\u2029');
import { escapeHtml } from './escape-html';
export { escapeHtml };

const PAGE_SCRIPT = String.raw`
(function () {
  var data = JSON.parse(document.getElementById('report-data').textContent);
  var fmt = ${formatMs.toString()};
  if (data.distributions.length > 0) {
    Chart.defaults.animation = false;
    Chart.defaults.font.family = 'system-ui, sans-serif';
    var colors = ['#4e79a7', '#f28e2b', '#e15759', '#76b7b2', '#59a14f', '#edc948', '#b07aa1', '#ff9da7', '#9c755f', '#bab0ac'];
    var dists = document.getElementById('distributions');
    data.distributions.forEach(function (d, n) {
      var box = document.createElement('div');
      box.className = 'chart small';
      var h = document.createElement('h3');
      h.textContent = (d.dir === 's2c' ? 'from the server: ' : '') + d.method + ' (' + d.count + ' requests, p50 ' + fmt(d.p50Ms) + ' ms, p99 ' + fmt(d.p99Ms) + ' ms)';
      var c = document.createElement('canvas');
      c.setAttribute('data-method', d.method);
      c.setAttribute('data-dir', d.dir);
      box.appendChild(h); box.appendChild(c); dists.appendChild(box);
      var labels = d.counts.map(function (_, i) { return fmt(d.edgesMs[i]) + '–' + fmt(d.edgesMs[i + 1]); });
      new Chart(c, {
        type: 'bar',
        data: { labels: labels, datasets: [{ label: 'requests', data: d.counts, backgroundColor: colors[n % colors.length] }] },
        options: { maintainAspectRatio: false, plugins: { legend: { display: false } },
          scales: { x: { title: { display: true, text: 'latency (ms)' } }, y: { beginAtZero: true, ticks: { precision: 0 }, title: { display: true, text: 'requests' } } } },
      });
    });
  }
  document.body.setAttribute('data-rendered', 'true');
})();
`;

/** A method gets a latency distribution chart from this many answered requests; fewer are described by the table's percentiles. */
export const MIN_CHART_REQUESTS = 20;

/** The per-method table's kernel columns: groups of parts, each named for people. */
const KERNEL_GROUPS: Array<{ group: string; parts: Array<[string, string]> }> = [
  { group: 'Pipes', parts: [['fromEditorPipeUs', 'editor to lsptap'], ['toServerPipeUs', 'to server'], ['toLsptapPipeUs', 'back to lsptap'], ['toEditorPipeUs', 'to editor']] },
  { group: 'Server', parts: [['serverCpuUs', 'on CPU'], ['serverRunqUs', 'waiting for a CPU'], ['serverWriteUs', 'writing']] },
  { group: 'Server waiting for', parts: [['blockedOnChildUs', 'children'], ['blockedOnDiskUs', 'the disk'], ['blockedOtherUs', 'other']] },
];

export interface HtmlReportInput {
  report: Report;
  sessions: SessionFacts[];
  timeline: Timeline;
  /** What --redact removed (sentences for the top of the page), or null when not redacting. */
  redacted: string[] | null;
}

export interface HtmlReportOptions {
  /**
   * The HTML of a slow request's flame graph and top functions (issue 26's profiles), put in
   * its details' `div.profile`; null (or no function) leaves the place empty.
   */
  profileOf?: (s: SlowRequest, rank: number) => string | null;
}

/** formatMs, with thousands grouped as the sentences write them (76,568 ms). */
const fmtMs = (x: number | null | undefined): string => (x !== null && x !== undefined && x >= 1000 ? Math.round(x).toLocaleString('en-US') : formatMs(x));

function durationText(ms: number): string {
  if (ms < 1000) return `${Math.round(ms)} ms`;
  const s = Math.round(ms / 1000);
  if (s < 60) return `${s} s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m} min ${s % 60} s`;
  return `${Math.floor(m / 60)} h ${m % 60} min`;
}

const utc = (ms: number): string => new Date(ms).toISOString().replace('T', ' ').replace(/\.\d+Z$/, ' UTC');
const unique = (xs: Array<string | null>): string[] => [...new Set(xs.filter((x): x is string => x !== null))];

/** The server's name for a session, as --summary says it. */
function serverKey(source: string, session: string): string { return `${source}\u0000${session}`; }

/** The header: what was measured, where, when, on what, and at what cost. */
function sessionHeader(input: HtmlReportInput): string {
  const { report, sessions } = input;
  const rows: Array<[string, string]> = [];
  const servers = unique(sessions.map((s) => (s.serverName === null ? null : `${s.serverName}${s.serverVersion === null ? '' : ` ${versionText(s.serverVersion)}`}`)));
  rows.push(['Server', servers.length === 0 ? 'not named in the log (socket mode)' : servers.join(', ')]);
  const workspaces = unique(sessions.map((s) => s.workspace));
  if (workspaces.length > 0) rows.push([workspaces.length === 1 ? 'Workspace' : 'Workspaces', workspaces.slice(0, 5).join(', ') + (workspaces.length > 5 ? `, and ${workspaces.length - 5} more` : '')]);
  if (sessions.length > 0) {
    const start = Math.min(...sessions.map((s) => s.startMs));
    const end = Math.max(...sessions.map((s) => s.endMs));
    const cut = sessions.filter((s) => !s.ended).length;
    rows.push(['When', `${utc(start)}, for ${durationText(end - start)}${sessions.length > 1 ? ` (${sessions.length} sessions)` : ''}${cut > 0 ? `; ${cut === sessions.length ? 'the log ends' : `${cut} log(s) end`} without session end` : ''}`]);
  }
  const requests = sessions.reduce((a, s) => a + s.requests, 0);
  const notifications = sessions.reduce((a, s) => a + s.notifications, 0);
  const answered = report.methods.filter((r) => r.kind === 'request').reduce((a, r) => a + r.answered, 0);
  rows.push(['Requests', `${requests.toLocaleString('en-US')} (${answered.toLocaleString('en-US')} answered), ${notifications.toLocaleString('en-US')} notifications, ${report.messages.toLocaleString('en-US')} messages in all`]);
  const machines = unique(sessions.map((s) => (s.machine === null ? null : `${s.machine.os}, ${s.machine.arch}, ${s.machine.cpus} cores${s.machine.cpuModel === null ? '' : ` (${s.machine.cpuModel})`}, ${(s.machine.memoryMb / 1024).toFixed(0)} GB`)));
  if (machines.length > 0) rows.push(['Machine', machines.join('; ')]);
  /** A figure summed over the sessions; null when none logged it. */
  const sum = (pick: (s: SessionFacts) => number | null): number | null => (sessions.some((s) => pick(s) !== null) ? sessions.reduce((a, s) => a + (pick(s) ?? 0), 0) : null);
  const io = sum((s) => s.lsptapIoUs);
  const drain = sum((s) => s.kernelDrainMs);
  const load = sum((s) => s.kernelLoadMs);
  const cost: string[] = [];
  const cpu = sum((s) => s.lsptapCpuMs);
  const serverCpu = sum((s) => s.serverCpuMs);
  if (cpu !== null) cost.push(`${fmtMs(cpu)} ms of CPU${serverCpu !== null && serverCpu > 0 ? ` (${((100 * cpu) / serverCpu).toFixed(1)}% of the server's ${fmtMs(serverCpu)} ms)` : ''}`);
  if (io !== null) cost.push(`${fmtMs(io / 1000)} ms in its own reads and writes of the messages`);
  if (drain !== null) cost.push(`${fmtMs(drain)} ms reading kernel events (off the relay's thread)`);
  if (load !== null) cost.push(`${fmtMs(load)} ms loading its BPF programs`);
  if (cost.length > 0) rows.push(["lsptap's own cost", cost.join(', ')]);
  rows.push(['Logs', `${report.sources.map((x) => path.basename(x)).join(', ')}`]);
  return `<dl id="session">${rows.map(([k, v]) => `<dt>${escapeHtml(k)}</dt><dd>${escapeHtml(v)}</dd>`).join('')}</dl>`;
}

/** The sentence of --summary; without kernel timing, what is known. */
function sentenceOf(s: SlowRequest, server: string): string {
  if (s.explained !== null) return s.explained;
  const head = `${s.method} ${Math.round(s.latencyMs).toLocaleString('en-US')} ms`;
  if (s.dir === 's2c') return `${head}: a request from ${server}, answered by the editor`;
  return s.phases.length === 0 ? `${head} (its request line is not in the log)` : `${head}: this log has no kernel timing, so where ${server} spent it is not known`;
}

function childrenList(s: SlowRequest): string {
  if (s.children.length === 0) return '';
  const items = [...s.children].sort((a, b) => (b.wallUs ?? 0) - (a.wallUs ?? 0)).slice(0, 12).map((c) => `<li><code>${escapeHtml(c.args.join(' ') || c.comm)}</code> ${c.wallUs === null ? '' : `${fmtMs(c.wallUs / 1000)} ms in it`}${c.exitCode === null && c.signal === null ? ', still running' : ''}${c.cpuUs === null ? '' : `, ${fmtMs(c.cpuUs / 1000)} ms CPU`}${c.exitCode !== null && c.exitCode !== 0 ? `, exit ${c.exitCode}` : ''}${c.signal !== null ? `, signal ${c.signal}` : ''}</li>`);
  const more = s.children.length > 12 ? `<li>and ${s.children.length - 12} more</li>` : '';
  return `<h3>The server's children in this request (longest first)</h3><ul class="children">${items.join('')}${more}</ul>`;
}

function slowestSection(report: Report, serverOf: (s: SlowRequest) => string, options: HtmlReportOptions): string {
  if (report.slowest.length === 0) return '<section id="slowest"><h2>Slowest requests</h2><p>No answered request in these logs.</p></section>';
  const items = report.slowest.map((s, i) => {
    const meta = `${s.dir === 's2c' ? 'from the server, ' : ''}id ${String(s.id)}, ${utc(s.time)}, ${path.basename(s.source)}:${s.lineNo}${s.isError ? ', answered with an error' : ''}`;
    const profile = options.profileOf?.(s, i + 1) ?? null;
    return `<li id="slow-${i + 1}"><details><summary><span class="sentence">${escapeHtml(sentenceOf(s, serverOf(s)))}</span> <span class="meta">${escapeHtml(meta)}</span></summary>
<div class="detail"><h3>Its parts, from the editor's write to the editor's read</h3>${requestPartsSvg(s) || '<p>Its request line is not in the log.</p>'}
${childrenList(s)}
<div class="profile" data-rank="${i + 1}">${profile ?? ''}</div></div></details></li>`;
  });
  return `<section id="slowest"><h2>Slowest requests, explained</h2><ol class="slow">\n${items.join('\n')}\n</ol></section>`;
}

/** The per-method table: ms, readable names, kernel parts grouped, parts zero (or absent) everywhere left out. */
function methodTable(report: Report): string {
  const requests = report.methods.filter((r) => r.kind === 'request');
  const nonZero = (part: string): boolean => requests.some((r) => { const k = r.kernel?.[part]; return k !== undefined && (k.p50 !== 0 || k.p99 !== 0); });
  const groups = KERNEL_GROUPS.map((g) => ({ group: g.group, parts: g.parts.filter(([p]) => nonZero(p)) })).filter((g) => g.parts.length > 0);
  const anyUnanswered = report.unanswered.length > 0;
  const anyErrors = requests.some((r) => r.errors > 0);
  const base = ['Method', 'Count', 'p50', 'p90', 'p99', 'max', ...(anyErrors ? ['Errors'] : []), ...(anyUnanswered ? ['Unanswered'] : [])];
  const head1 = `<tr><th colspan="2"></th><th colspan="4" class="group">Latency (ms)</th>${base.length > 6 ? `<th colspan="${base.length - 6}"></th>` : ''}${groups.map((g) => `<th colspan="${g.parts.length}" class="group">${escapeHtml(g.group)} (ms, p50 / p99)</th>`).join('')}</tr>`;
  const head2 = `<tr>${base.map((h) => `<th>${h}</th>`).join('')}${groups.flatMap((g) => g.parts.map(([, name]) => `<th>${escapeHtml(name)}</th>`)).join('')}</tr>`;
  const body = requests.map((r) => {
    const kernelCells = groups.flatMap((g) => g.parts.map(([p]) => {
      const k = r.kernel?.[p];
      return k === undefined ? '<td>-</td>' : `<td>${fmtMs(k.p50 / 1000)}<br><small>${fmtMs(k.p99 / 1000)}</small></td>`;
    })).join('');
    return `<tr data-dir="${r.dir}" data-method="${escapeHtml(r.method)}"><td class="method">${r.dir === 's2c' ? '<small>from the server</small> ' : ''}${escapeHtml(r.method).replace(/\//g, '/<wbr>')}</td><td>${r.count}</td><td>${fmtMs(r.p50Ms)}</td><td>${fmtMs(r.p90Ms)}</td><td>${fmtMs(r.p99Ms)}</td><td>${fmtMs(r.maxMs)}</td>${anyErrors ? `<td>${r.errors}</td>` : ''}${anyUnanswered ? `<td class="note">${r.unanswered > 0 ? `${r.unanswered} unanswered (log ended)` : ''}</td>` : ''}${kernelCells}</tr>`;
  }).join('\n');
  const notes = report.methods.filter((r) => r.kind === 'notification');
  const notifications = notes.length === 0 ? '' : `<p id="notifications">Notifications: ${notes.map((r) => `${escapeHtml(r.method)} ×${r.count}${r.dir === 's2c' ? ' (from the server)' : ''}`).join(', ')}.</p>`;
  return `<table id="methods"><thead>${head1}${head2}</thead>
<tbody>
${body}
</tbody></table>
${notifications}`;
}

export function renderHtmlReport(input: HtmlReportInput, options: HtmlReportOptions = {}): string {
  const { report, sessions, timeline } = input;
  const names = new Map(sessions.map((s) => [serverKey(s.source, s.session), s.serverName ?? 'the server']));
  const serverName = (source: string, session: string): string => names.get(serverKey(source, session)) ?? 'the server';
  const distributions = report.methods
    .filter((r) => r.answered >= MIN_CHART_REQUESTS && report.latencies[`${r.dir} ${r.method}`] !== undefined)
    .map((r) => ({ dir: r.dir, method: r.method, count: r.answered, p50Ms: r.p50Ms, p99Ms: r.p99Ms, ...histogramOf(report.latencies[`${r.dir} ${r.method}`]) }));
  const data = { distributions };
  const unansweredRows = report.unanswered.map((u) => `<tr><td>${u.dir === 's2c' ? 'from the server' : 'from the editor'}</td><td>${escapeHtml(u.method)}</td><td>${escapeHtml(String(u.id))}</td><td>${utc(u.time)}</td><td>${escapeHtml(`${path.basename(u.source)}:${u.lineNo}`)}</td><td>${u.waitedAtLeastMs.toFixed(0)}</td><td>unanswered (log ended)</td></tr>`).join('\n');
  const unansweredSection = report.unanswered.length > 0 ? `<h2>Unanswered (log ended)</h2>
<p>These logs end without <code>session end</code> (lsptap was killed, or the log was cut): these requests had no response by their log's last line.</p>
<table id="unanswered"><thead><tr><th>from</th><th>method</th><th>id</th><th>sent</th><th>log line</th><th>waited ms (at least)</th><th></th></tr></thead>
<tbody>
${unansweredRows}
</tbody></table>` : '';
  const corrupt = (report.corruptCount > 0 ? `<p class="warn">${report.corruptCount} corrupt line(s) skipped: ${report.corrupt.slice(0, 10).map((c) => escapeHtml(`${path.basename(c.source)}:${c.lineNo}`)).join(', ')}</p>` : '')
    + (report.rejected.length > 0 ? `<p class="warn">response(s) with a bad latency left out: ${report.rejected.map((r) => escapeHtml(`${r.count} ${r.reason} (first at ${path.basename(r.first)})`)).join(', ')}</p>` : '');
  const redacted = input.redacted === null ? '' : `<p id="redacted" class="note">Redacted for sharing: ${input.redacted.map(escapeHtml).join('; ')}.</p>`;
  const { svg, note } = sessionTimelineSvg(timeline, serverName);
  const timelineSection = svg === '' ? '' : `<h2>Timeline</h2>
<p class="note">Each request a bar in its lane (requests that overlap take separate lanes), the server's children below them for their lifetimes, notifications as ticks. Hover for names and times. <code>lsptap report --trace FILE.json</code> writes the same view for Perfetto (ui.perfetto.dev) or Chrome's trace viewer.${note === null ? '' : ` ${escapeHtml(note)}`}</p>
<div id="timeline">${svg}</div>`;
  const distributionsSection = distributions.length > 0
    ? `<h2>Latency distribution</h2><p class="note">For methods with ${MIN_CHART_REQUESTS} or more answered requests.</p><div id="distributions"></div>`
    : `<h2>Latency distribution</h2><p class="note">No method has ${MIN_CHART_REQUESTS} answered requests, the least a distribution needs to say more than the table's percentiles.</p>`;
  const title = unique(sessions.map((s) => s.serverName)).join(', ') || 'LSP';
  const serverOf = (s: SlowRequest): string => serverName(s.source, s.session);
  return `${pageHead(`lsptap report: ${title}`, PAGE_STYLE)}
<h1>lsptap report: ${escapeHtml(title)}</h1>
${redacted}
${sessionHeader(input)}
${corrupt}
${slowestSection(report, serverOf, options)}
${timelineSection}
<h2>Per method</h2>
<p class="note">Requests, by their p50 latency: from lsptap's forwarding of the request to its reading of the response. Kernel parts, when the log has them, give p50 over p99.</p>
${methodTable(report)}
${unansweredSection}
${distributionsSection}
<script id="report-data" type="application/json">${scriptJson(data)}</script>
${distributions.length > 0 ? `<script>${chartJsSource().replace(/<\/script/gi, '<\\/script')}</script>` : ''}
<script>${PAGE_SCRIPT}</script>
</body>
</html>
`;
}

const PAGE_STYLE = `#session { display: grid; grid-template-columns: max-content 1fr; gap: 2px 16px; margin: 0 0 8px; }
#session dt { font-weight: 600; } #session dd { margin: 0; overflow-wrap: anywhere; }
.note { color: #555; } #redacted { background: #fff6d6; padding: 6px 10px; border-left: 3px solid #e0b000; color: #333; }
ol.slow { padding-left: 24px; } ol.slow li { margin: 4px 0; } ol.slow summary { cursor: pointer; }
ol.slow .sentence { font-weight: 600; } ol.slow .meta { color: #777; font-size: 12px; margin-left: 6px; }
.detail { margin: 6px 0 12px; } .detail h3 { margin-top: 10px; } ul.children code { overflow-wrap: anywhere; font-size: 12px; }
#methods { width: 100%; } #methods td.method { min-width: 12em; } #methods th { font-weight: 600; vertical-align: bottom; } #methods th.group { text-align: center; border-bottom: 2px solid #bbb; }
#methods small { color: #888; } #methods td, #methods th { padding: 3px 6px; } #methods td:first-child, #methods th:first-child { text-align: left; } #methods td:nth-child(2), #methods th:nth-child(2) { text-align: right; }
svg text { font: 11px system-ui, sans-serif; fill: #333; } svg text.tick { fill: #777; font-size: 10px; } svg .grid { stroke: #eee; } svg text.session { font-weight: 600; }
svg rect.child { fill: #bab0ac; } svg rect.error { stroke: #c00; } svg .notify-c2s { stroke: #4e79a7; } svg .notify-s2c { stroke: #e15759; } svg text.value { fill: #555; }
svg .split-0 { fill: #59a14f; } svg .split-1 { fill: #f28e2b; } svg .split-2 { fill: #9c755f; } svg .split-3 { fill: #bab0ac; }
.chart.small { height: 220px; }`;

/** The page's stylesheet (the diff page uses it too). */
export const REPORT_STYLE = `body { font: 14px system-ui, sans-serif; margin: 24px; color: #222; }
h1 { font-size: 20px; } h2 { font-size: 16px; margin-top: 28px; } h3 { font-size: 13px; margin: 0 0 4px; font-weight: 600; }
table { border-collapse: collapse; font-variant-numeric: tabular-nums; }
td, th { padding: 3px 10px; border-bottom: 1px solid #ddd; text-align: right; } td:nth-child(2), th:nth-child(2) { text-align: left; }
#distributions { display: grid; grid-template-columns: repeat(auto-fill, minmax(420px, 1fr)); gap: 16px; }
.chart.small { height: 220px; padding-bottom: 24px; } .chart { position: relative; }
.warn { color: #a40; }
#slowest td, #slowest th { text-align: left; vertical-align: top; } #slowest td:nth-child(2) { text-align: right; }`;

/**
 * The start of a self-contained page (inline script and style only, nothing fetched) in the
 * report's style, up to and including <body>; `extraStyle` adds rules of the page's own.
 */
export function pageHead(title: string, extraStyle: string): string {
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; img-src data:">
<title>${escapeHtml(title)}</title>
<style>
${REPORT_STYLE}${extraStyle === '' ? '' : `\n${extraStyle}`}
</style>
</head>
<body>`;
}

