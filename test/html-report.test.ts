// `lsptap report --html` from a real gopls session, opened in Debian's real Chromium through
// playwright-core: no console errors, no network request besides the file itself, a
// distribution chart per method with the right counts, a waterfall bar per phase of each
// slowest request, and a screenshot under test-output/.

import test from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { execFileSync } from 'node:child_process';
import { chromium, type BrowserContext } from 'playwright-core';
import { LSPTAP_BIN, REPO_ROOT, missingCommand, readLogLines, runFixtureSession, skipUnless } from './helpers/fixture-session';
import { histogramOf } from '../src/report/html-report';

const CHROMIUM = '/usr/bin/chromium';
const CHROMIUM_ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'];
const missing = fs.existsSync(CHROMIUM) ? missingCommand('gopls') : `${CHROMIUM} not installed; run scripts/setup.sh`;

test('the HTML report of a real gopls session renders in Chromium with a chart per method and a waterfall per slow request, fetching nothing', skipUnless(missing), async (t) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'lsptap-html-'));
  // One hook, browser first: a live Chromium still writes into its profile while the directory goes.
  let browser: BrowserContext | null = null;
  t.after(async () => { await browser?.close(); fs.rmSync(dir, { recursive: true, force: true, maxRetries: 5, retryDelay: 100 }); });
  const log = path.join(dir, 'session.jsonl');
  assert.equal((await runFixtureSession({ logPath: log, hovers: 12 })).exitCode, 0);
  const html = path.join(dir, 'report.html');
  execFileSync(process.execPath, [LSPTAP_BIN, 'report', '--html', html, '--slowest', '6', log], { stdio: ['ignore', 'ignore', 'pipe'] });
  assert.doesNotMatch(fs.readFileSync(html, 'utf8'), /<script[^>]+src=|<link[^>]+href=/i, 'nothing is loaded from elsewhere');

  const context = await chromium.launchPersistentContext(path.join(dir, 'profile'), { executablePath: CHROMIUM, args: CHROMIUM_ARGS, headless: true, viewport: { width: 1280, height: 900 } });
  browser = context;
  const page = context.pages()[0] ?? await context.newPage();
  const problems: string[] = [];
  const requests: string[] = [];
  page.on('console', (m) => { if (m.type() === 'error' || m.type() === 'warning') problems.push(`${m.type()}: ${m.text()}`); });
  page.on('pageerror', (e) => problems.push(`pageerror: ${e.message}`));
  page.on('request', (r) => requests.push(r.url()));
  await page.goto(pathToFileURL(html).href);
  await page.waitForSelector('body[data-rendered="true"]', { timeout: 15_000 });

  assert.deepEqual(problems, []);
  assert.deepEqual(requests, [pathToFileURL(html).href]);

  const lines = readLogLines(log);
  const answered = lines.filter((l) => l.kind === 'response' && typeof l.latencyMs === 'number');
  const answeredMethods = [...new Set(answered.map((l) => `${l.dir === 's2c' ? 'c2s' : 's2c'} ${String(l.method)}`))].sort();
  // Page-side code as strings: the test build has no DOM types.
  const charts = await page.evaluate<{ key: string; total: number; height: number }[]>(`Array.from(document.querySelectorAll('#distributions canvas')).map((c) => ({
    key: c.getAttribute('data-dir') + ' ' + c.getAttribute('data-method'),
    total: Chart.getChart(c).data.datasets[0].data.reduce((a, b) => a + b, 0),
    height: c.clientHeight,
  }))`);
  assert.deepEqual(charts.map((c) => c.key).sort(), answeredMethods);
  const hover = charts.find((c) => c.key === 'c2s textDocument/hover')!;
  assert.equal(hover.total, 12);
  assert.ok(charts.every((c) => c.height > 100), 'charts have room to be read');

  const waterfall = await page.evaluate<{ labels: string[]; phases: string[]; bars: number[]; widths: number[] }>(`(() => {
    const chart = Chart.getChart('waterfall');
    return {
      labels: chart.data.labels, phases: chart.data.datasets.map((d) => d.label),
      bars: chart.data.datasets.map((d, i) => chart.getDatasetMeta(i).data.length),
      widths: chart.getDatasetMeta(chart.data.datasets.findIndex((d) => d.label === 'server working')).data.map((e) => e.width),
    };
  })()`);
  assert.equal(waterfall.labels.length, 6);
  assert.match(waterfall.labels[0], /^#1 textDocument\/\S+ \d+\.\d ms$/);
  // One dataset per phase name among the slowest (with kernel timing, where BPF loads, the
  // phases are bounded by syscalls and some lack the editor's pipes), one bar slot per request.
  const slowest = (JSON.parse(execFileSync(process.execPath, [LSPTAP_BIN, 'report', '--json', '--slowest', '6', log], { encoding: 'utf8' })) as { slowest: { phases: { name: string }[] }[] }).slowest;
  assert.deepEqual(waterfall.phases, [...new Set(slowest.flatMap((s) => s.phases.map((p) => p.name)))]);
  assert.ok(waterfall.phases.includes('server working') && waterfall.phases.includes('request forwarded'));
  assert.deepEqual(waterfall.bars, waterfall.phases.map(() => 6));
  assert.ok(waterfall.widths[0] > 100, `the slowest request's server time is drawn as a long bar (${waterfall.widths[0]} px)`);
  assert.equal(await page.locator('#methods tbody tr').count(), new Set(lines.filter((l) => l.msg === 'message' && typeof l.method === 'string' && l.kind !== 'response').map((l) => `${l.dir} ${l.method}`)).size);

  const outDir = path.join(REPO_ROOT, 'test-output');
  fs.mkdirSync(outDir, { recursive: true });
  await page.screenshot({ path: path.join(outDir, 'html-report.png'), fullPage: true });
  fs.copyFileSync(html, path.join(outDir, 'html-report.html'));
  assert.ok(fs.statSync(path.join(outDir, 'html-report.png')).size > 10_000);
});

test('the HTML report draws the kernel parts of each slow request when the log carries kernel timing', skipUnless(missing), async (t) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'lsptap-html-kernel-'));
  // One hook, browser first: a live Chromium still writes into its profile while the directory goes.
  let browser: BrowserContext | null = null;
  t.after(async () => { await browser?.close(); fs.rmSync(dir, { recursive: true, force: true, maxRetries: 5, retryDelay: 100 }); });
  const log = path.join(dir, 'session.jsonl');
  assert.equal((await runFixtureSession({ logPath: log, hovers: 4 })).exitCode, 0);
  // Kernel timing (issue 4) adds a `kernel` object of µs parts to message lines.
  let n = 0;
  const withKernel = readLogLines(log).map((l) => (l.kind === 'response' ? { ...l, kernel: { serverCpuUs: 1000 * ++n, serverRunqUs: 10 * n, toEditorPipeUs: null } } : l));
  fs.writeFileSync(log, withKernel.map((l) => JSON.stringify(l)).join('\n') + '\n');
  const html = path.join(dir, 'report.html');
  execFileSync(process.execPath, [LSPTAP_BIN, 'report', '--html', html, '--slowest', '3', log], { stdio: ['ignore', 'ignore', 'pipe'] });

  const context = await chromium.launchPersistentContext(path.join(dir, 'profile'), { executablePath: CHROMIUM, args: CHROMIUM_ARGS, headless: true });
  browser = context;
  const page = context.pages()[0] ?? await context.newPage();
  const problems: string[] = [];
  page.on('console', (m) => { if (m.type() === 'error' || m.type() === 'warning') problems.push(`${m.type()}: ${m.text()}`); });
  page.on('pageerror', (e) => problems.push(`pageerror: ${e.message}`));
  await page.goto(pathToFileURL(html).href);
  await page.waitForSelector('body[data-rendered="true"]', { timeout: 15_000 });
  assert.deepEqual(problems, []);
  const kernel = await page.evaluate<{ parts: string[]; rows: number; visible: boolean }>(`(() => {
    const chart = Chart.getChart('kernel');
    return { parts: chart.data.datasets.map((d) => d.label), rows: chart.data.labels.length, visible: document.getElementById('kernel').clientHeight > 50 };
  })()`);
  assert.deepEqual(kernel, { parts: ['serverCpuUs', 'serverRunqUs'], rows: 3, visible: true }, 'a part never measured (always null) is left out');
  assert.equal(await page.locator('#methods th', { hasText: 'serverCpuUs p50 / p99 µs' }).count(), 1);
});

test('latency histograms use 1-2-5 bins that cover every value once', () => {
  const h = histogramOf([0.4, 0.9, 1.5, 3, 250]);
  assert.deepEqual(h.edgesMs, [0.2, 0.5, 1, 2, 5, 10, 20, 50, 100, 200, 500]);
  assert.deepEqual(h.counts, [1, 1, 1, 1, 0, 0, 0, 0, 0, 1]);
  assert.equal(histogramOf([7, 7, 7]).counts.reduce((a, b) => a + b, 0), 3);
});
