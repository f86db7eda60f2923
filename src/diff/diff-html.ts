// `lsptap diff --html FILE`: one self-contained page in the report's style (its stylesheet
// and inlined Chart.js): the table, and each method's B/A interval as a bar on a log axis
// around 1, coloured by verdict.

import path from 'node:path';
import { chartJsSource, escapeHtml, pageHead, scriptJson } from '../report/html-report';
import type { Comparison } from './compare';
import { VERDICT_TEXT, intervalText } from './format-diff';
import { formatMs } from '../sinks/text-table';

const PAGE_SCRIPT = String.raw`
(function () {
  var data = JSON.parse(document.getElementById('diff-data').textContent);
  Chart.defaults.animation = false;
  Chart.defaults.font.family = 'system-ui, sans-serif';
  var colour = { slower: '#e15759', faster: '#59a14f', same: '#bab0ac' };
  var rows = data.rows.filter(function (r) { return r.interval !== null; });
  if (rows.length === 0) { document.body.setAttribute('data-rendered', 'true'); return; }
  var box = document.getElementById('ratios');
  box.parentNode.style.display = '';
  box.parentNode.style.height = (90 + 30 * rows.length) + 'px';
  new Chart(box, {
    type: 'bar',
    data: { labels: rows.map(function (r) { return r.dir + ' ' + r.method; }),
      datasets: [{ label: '95% interval of B/A p50', minBarLength: 3,
        data: rows.map(function (r) { return [r.interval.low, r.interval.high]; }),
        backgroundColor: rows.map(function (r) { return colour[r.verdict] || '#4e79a7'; }) }] },
    options: { indexAxis: 'y', maintainAspectRatio: false, plugins: { legend: { display: false } },
      scales: { x: { type: 'logarithmic', title: { display: true, text: 'B/A p50 (1 = no change; left of 1 B is faster)' } } } },
  });
  document.body.setAttribute('data-rendered', 'true');
})();
`;

export function renderDiffHtml(c: Comparison): string {
  const fmt = formatMs;
  const rows = c.rows.map((r) => `<tr class="${r.verdict}"><td>${r.dir}</td><td>${escapeHtml(r.method)}</td>`
    + `<td>${r.a === null ? '-' : r.kind === 'request' ? r.a.answered : r.a.count}</td><td>${fmt(r.a?.p50Ms)}</td><td>${fmt(r.a?.p99Ms)}</td>`
    + `<td>${r.b === null ? '-' : r.kind === 'request' ? r.b.answered : r.b.count}</td><td>${fmt(r.b?.p50Ms)}</td><td>${fmt(r.b?.p99Ms)}</td>`
    + `<td>${r.ratio === null ? '-' : r.ratio.toFixed(2)}</td><td>${intervalText(r)}</td><td>${VERDICT_TEXT[r.verdict]}</td></tr>`).join('\n');
  const names = (s: string[]): string => escapeHtml(s.map((x) => path.basename(x)).join(', '));
  return `${pageHead('lsptap diff', 'tr.slower td:last-child { color: #c0392b; font-weight: 600; } tr.faster td:last-child { color: #2e7d32; font-weight: 600; }')}
<h1>lsptap diff</h1>
<p>A: ${c.a.sources.length} log(s) (${names(c.a.sources)}), ${c.a.sessions} session(s), ${c.a.messages} message(s).<br>
B: ${c.b.sources.length} log(s) (${names(c.b.sources)}), ${c.b.sessions} session(s), ${c.b.messages} message(s).</p>
<p>Latencies in ms; <code>dir</code> is the request's direction; n counts answered requests (notifications: messages). Verdict: ${escapeHtml(c.method)}.</p>
<table id="diff"><thead><tr><th>dir</th><th>method</th><th>A n</th><th>A p50</th><th>A p99</th><th>B n</th><th>B p50</th><th>B p99</th><th>B/A p50</th><th>95% interval</th><th>verdict</th></tr></thead>
<tbody>
${rows}
</tbody></table>
<h2>B/A p50, 95% interval</h2>
<div class="chart" style="display:none"><canvas id="ratios"></canvas></div>
<script id="diff-data" type="application/json">${scriptJson(c)}</script>
<script>${chartJsSource().replace(/<\/script/gi, '<\\/script')}</script>
<script>${PAGE_SCRIPT}</script>
</body>
</html>
`;
}
