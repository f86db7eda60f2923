// `lsptap report --html FILE`: one self-contained page. Chart.js (its UMD build from
// node_modules) and the data are inlined, so the page makes no network fetch and can be
// mailed or attached to a bug. Charts: a latency distribution per method (log-spaced bins,
// counted here), and a waterfall of each slowest request's phases from the editor's write
// to the editor's read, plus its kernel parts when the log has them.

import fs from 'node:fs';
import path from 'node:path';
import type { Report, SlowRequest } from './aggregate';
import { kernelParts } from './format-text';

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
  var fmt = function (x) { return x === null || x === undefined ? '-' : x < 10 ? x.toFixed(2) : x < 1000 ? x.toFixed(1) : x.toFixed(0); };
  Chart.defaults.animation = false;
  Chart.defaults.font.family = 'system-ui, sans-serif';
  var colors = ['#4e79a7', '#f28e2b', '#e15759', '#76b7b2', '#59a14f', '#edc948', '#b07aa1', '#ff9da7', '#9c755f', '#bab0ac'];

  var dists = document.getElementById('distributions');
  data.distributions.forEach(function (d, n) {
    var box = document.createElement('div');
    box.className = 'chart small';
    var h = document.createElement('h3');
    h.textContent = d.dir + ' ' + d.method + ' (' + d.count + ', p50 ' + fmt(d.p50Ms) + ' ms, p99 ' + fmt(d.p99Ms) + ' ms)';
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

  var slow = data.slowest.filter(function (s) { return s.phases.length > 0; });
  if (slow.length > 0) {
    var labels = slow.map(function (s, i) { return '#' + (i + 1) + ' ' + s.method + ' ' + s.latencyMs.toFixed(1) + ' ms'; });
    // Requests with kernel stamps have more phases than those without: one dataset per name.
    var names = [];
    slow.forEach(function (s) { s.phases.forEach(function (p) { if (names.indexOf(p.name) < 0) names.push(p.name); }); });
    var phaseSets = names.map(function (name, k) {
      return { label: name, backgroundColor: colors[k % colors.length], minBarLength: 2,
        data: slow.map(function (s) { var p = s.phases.filter(function (x) { return x.name === name; })[0]; return p ? [p.startMs, p.endMs] : null; }) };
    });
    var wf = document.getElementById('waterfall');
    wf.parentNode.style.height = (80 + 34 * slow.length) + 'px';
    new Chart(wf, {
      type: 'bar',
      data: { labels: labels, datasets: phaseSets },
      options: { indexAxis: 'y', maintainAspectRatio: false, grouped: false,
        plugins: { tooltip: { callbacks: { label: function (ctx) { var v = ctx.raw; return ctx.dataset.label + ': ' + (v[1] - v[0]).toFixed(3) + ' ms (at ' + v[0].toFixed(3) + ')'; } } } },
        scales: { x: { beginAtZero: true, title: { display: true, text: 'ms since the editor wrote the request (its first byte read, without kernel timing)' } }, y: { stacked: true } } },
    });
  }

  if (data.bar.parts.length > 0 && data.slowest.length > 0) {
    var kc = document.getElementById('kernel');
    kc.parentNode.style.display = '';
    kc.parentNode.style.height = (80 + 34 * data.slowest.length) + 'px';
    new Chart(kc, {
      type: 'bar',
      data: { labels: data.slowest.map(function (s, i) { return '#' + (i + 1) + ' ' + s.method; }),
        datasets: data.bar.parts.map(function (part, k) {
          return { label: part, backgroundColor: colors[k % colors.length], data: data.bar.rows.map(function (row) { return row[k]; }) };
        }) },
      options: { indexAxis: 'y', maintainAspectRatio: false, scales: { x: { stacked: true, title: { display: true, text: 'µs' } }, y: { stacked: true } } },
    });
  }
  document.body.setAttribute('data-rendered', 'true');
})();
`;

/**
 * The kernel bar of each slow request. With the blocked split (docs/kernel-timing.md "How the time is attributed") it
 * stacks parts that follow each other and add up to the request: the pipes to the server,
 * the server busy, blocked on a child, on the disk, on something else, its write, the pipes back.
 * Older logs stack the parts they have.
 */
export function kernelBar(slowest: SlowRequest[], parts: string[]): { parts: string[]; rows: number[][] } {
  const v = (k: Record<string, number | null> | null, p: string): number => (k !== null && typeof k[p] === 'number' ? k[p] : 0);
  if (!slowest.some((s) => typeof s.kernel?.blockedOnChildUs === 'number')) {
    return { parts, rows: slowest.map((s) => parts.map((p) => v(s.kernel, p))) };
  }
  const stacked = ['fromEditorPipeUs', 'toServerPipeUs', 'serverBusyUs', 'blockedOnChildUs', 'blockedOnDiskUs', 'blockedOtherUs', 'serverWriteUs', 'toLsptapPipeUs', 'toEditorPipeUs'];
  return {
    parts: stacked,
    rows: slowest.map((s) => stacked.map((p) => (p === 'serverBusyUs' ? Math.max(0, v(s.kernel, 'serverUs') - v(s.kernel, 'serverBlockedUs')) : v(s.kernel, p)))),
  };
}

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

export function renderHtmlReport(report: Report): string {
  const parts = kernelParts(report);
  const distributions = report.methods
    .filter((r) => report.latencies[`${r.dir} ${r.method}`] !== undefined)
    .map((r) => ({ dir: r.dir, method: r.method, count: r.answered, p50Ms: r.p50Ms, p99Ms: r.p99Ms, ...histogramOf(report.latencies[`${r.dir} ${r.method}`]) }));
  const data = { distributions, slowest: report.slowest, bar: kernelBar(report.slowest, parts) };
  const fmt = (x: number | null): string => (x === null ? '-' : x < 10 ? x.toFixed(2) : x < 1000 ? x.toFixed(1) : x.toFixed(0));
  const anyUnanswered = report.unanswered.length > 0;
  const unansweredCell = (n: number): string => (anyUnanswered ? `<td class="note">${n > 0 ? `${n} unanswered (log ended)` : ''}</td>` : '');
  const methodRows = report.methods.map((r) => `<tr><td>${r.dir}</td><td>${escapeHtml(r.method)}</td><td>${r.count}</td><td>${fmt(r.p50Ms)}</td><td>${fmt(r.p90Ms)}</td><td>${fmt(r.p99Ms)}</td><td>${fmt(r.maxMs)}</td><td>${r.kind === 'request' ? r.errors : '-'}</td>${unansweredCell(r.unanswered)}${parts.map((p) => `<td>${r.kernel?.[p] ? `${r.kernel[p].p50} / ${r.kernel[p].p99}` : '-'}</td>`).join('')}</tr>`).join('\n');
  const unansweredRows = report.unanswered.map((u) => `<tr><td>${u.dir}</td><td>${escapeHtml(u.method)}</td><td>${escapeHtml(String(u.id))}</td><td>${new Date(u.time).toISOString()}</td><td>${escapeHtml(`${path.basename(u.source)}:${u.lineNo}`)}</td><td>${u.waitedAtLeastMs.toFixed(0)}</td><td>unanswered (log ended)</td></tr>`).join('\n');
  const unansweredSection = anyUnanswered ? `<h2>Unanswered (log ended)</h2>
<p>These logs end without <code>session end</code> (lsptap was killed, or the log was cut): these requests had no response by their log's last line.</p>
<table id="unanswered"><thead><tr><th>dir</th><th>method</th><th>id</th><th>time</th><th>log line</th><th>waited ms (at least)</th><th></th></tr></thead>
<tbody>
${unansweredRows}
</tbody></table>` : '';
  const slowRows = report.slowest.map((s, i) => `<tr><td>#${i + 1}</td><td>${s.latencyMs.toFixed(3)}</td><td>${s.dir}</td><td>${escapeHtml(s.method)}</td><td>${escapeHtml(String(s.id))}</td><td>${new Date(s.time).toISOString()}</td><td>${escapeHtml(`${path.basename(s.source)}:${s.lineNo}`)}</td><td>${s.phases.map((p) => `${escapeHtml(p.name)} ${(p.endMs - p.startMs).toFixed(3)}`).join('<br>')}${s.explained !== null ? `<br><em>${escapeHtml(s.explained)}</em>` : ''}</td></tr>`).join('\n');
  const corrupt = (report.corruptCount > 0 ? `<p class="warn">${report.corruptCount} corrupt line(s) skipped: ${report.corrupt.slice(0, 10).map((c) => escapeHtml(`${path.basename(c.source)}:${c.lineNo}`)).join(', ')}</p>` : '')
    + (report.rejected.length > 0 ? `<p class="warn">response(s) with a bad latency left out: ${report.rejected.map((r) => escapeHtml(`${r.count} ${r.reason} (first at ${path.basename(r.first)})`)).join(', ')}</p>` : '');
  return `${pageHead('lsptap report', '')}
<h1>lsptap report</h1>
<p>${report.sources.length} log(s), ${report.sessions} session(s), ${report.messages} message(s). Latencies in ms, as lsptap saw them: request fully forwarded to response fully read; <code>dir</code> is the request's direction.</p>
${corrupt}
<h2>Per method</h2>
<table id="methods"><thead><tr><th>dir</th><th>method</th><th>count</th><th>p50</th><th>p90</th><th>p99</th><th>max</th><th>errors</th>${anyUnanswered ? '<th>note</th>' : ''}${parts.map((p) => `<th>${escapeHtml(p)} p50 / p99 µs</th>`).join('')}</tr></thead>
<tbody>
${methodRows}
</tbody></table>
${unansweredSection}
<h2>Latency distribution per method</h2>
<div id="distributions"></div>
<h2>Slowest requests: where the time went</h2>
<div class="chart"><canvas id="waterfall"></canvas></div>
<div class="chart" style="display:none"><h3>Kernel breakdown (µs)</h3><canvas id="kernel"></canvas></div>
<table id="slowest"><thead><tr><th></th><th>ms</th><th>dir</th><th>method</th><th>id</th><th>time</th><th>log line</th><th>phases (ms)</th></tr></thead>
<tbody>
${slowRows}
</tbody></table>
<script id="report-data" type="application/json">${scriptJson(data)}</script>
<script>${chartJsSource().replace(/<\/script/gi, '<\\/script')}</script>
<script>${PAGE_SCRIPT}</script>
</body>
</html>
`;
}
