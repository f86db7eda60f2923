// `--metrics`: a real Prometheus (Debian's package, our own instance on loopback with a temp
// config and TSDB) scrapes lsptap during a real gopls session; the hover count and the p50
// from histogram_quantile must agree with lsptap's own log. Plus the exposition itself:
// names, labels, the method cap, a unix socket, and a bad address.

import test from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import net from 'node:net';
import http from 'node:http';
import { spawn, spawnSync } from 'node:child_process';
import { lsptapBin, repoRoot, readLog } from './helpers/index';
import { missingCommand, skipUnless } from './helpers/capabilities';
import { runFixtureSession } from './helpers/fixture-session';
import { LATENCY_BUCKETS_S, LsptapMetrics } from '../src/sinks/metrics';
import { quantile } from '../src/model/quantile';
import type { MessageRecord } from '../src/model/record';

const PROMETHEUS = '/usr/bin/prometheus';

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => { const { port } = s.address() as net.AddressInfo; s.close(() => resolve(port)); });
  });
}

function httpGet(url: string | { socketPath: string; path: string }): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = http.get(url as string, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => { body += c; });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('error', reject);
    req.setTimeout(5000, () => req.destroy(new Error(`GET timed out`)));
  });
}

async function promQuery(base: string, query: string): Promise<{ metric: Record<string, string>; value: [number, string] }[]> {
  const r = await httpGet(`${base}/api/v1/query?query=${encodeURIComponent(query)}`);
  const doc = JSON.parse(r.body) as { status: string; data: { result: { metric: Record<string, string>; value: [number, string] }[] }; error?: string };
  assert.equal(doc.status, 'success', doc.error);
  return doc.data.result;
}

async function waitFor<T>(what: string, timeoutMs: number, probe: () => Promise<T | null>): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown = null;
  while (Date.now() < deadline) {
    try { const v = await probe(); if (v !== null) return v; } catch (err) { last = err; }
    await new Promise((r) => setTimeout(r, 250));
  }
  throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${last ? `: ${String(last)}` : ''}`);
}

const prometheusMissing = fs.existsSync(PROMETHEUS) ? missingCommand('gopls') : `${PROMETHEUS} not installed; run scripts/setup.sh`;

test('a real Prometheus scraping lsptap counts the same hovers as the log and its histogram_quantile p50 falls in the log median\'s bucket', skipUnless(prometheusMissing), async (t) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'lsptap-prom-'));
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
  const [lsptapPort, promPort] = [await freePort(), await freePort()];
  fs.writeFileSync(path.join(dir, 'prometheus.yml'), [
    'global:', '  scrape_interval: 1s', '  scrape_timeout: 1s',
    'scrape_configs:', '  - job_name: lsptap', '    static_configs:', `      - targets: ['127.0.0.1:${lsptapPort}']`, '        labels: { developer: test }', '',
  ].join('\n'));
  const prom = spawn(PROMETHEUS, [
    `--config.file=${path.join(dir, 'prometheus.yml')}`, `--storage.tsdb.path=${path.join(dir, 'tsdb')}`,
    `--web.listen-address=127.0.0.1:${promPort}`, '--log.level=warn',
  ], { stdio: ['ignore', 'ignore', 'pipe'] });
  let promErr = '';
  prom.stderr.on('data', (b: Buffer) => { promErr += b.toString(); });
  t.after(() => { if (prom.exitCode === null) prom.kill('SIGKILL'); });
  const base = `http://127.0.0.1:${promPort}`;
  await waitFor(`Prometheus ready (${promErr})`, 30_000, async () => ((await httpGet(`${base}/-/ready`)).status === 200 ? true : null));

  const hovers = 9; // odd, so the median is one observation and histogram_quantile's rank lands on it
  const log = path.join(dir, 'session.jsonl');
  let promCount = NaN;
  let promP50 = NaN;
  let exposition = '';
  const r = await runFixtureSession({
    logPath: log, hovers, lsptapArgs: ['--metrics', `tcp:127.0.0.1:${lsptapPort}`],
    beforeShutdown: async () => {
      const countQuery = 'sum(lsptap_request_duration_seconds_count{job="lsptap",method="textDocument/hover"})';
      promCount = await waitFor('Prometheus to scrape every hover', 30_000, async () => {
        const v = await promQuery(base, countQuery);
        return v.length === 1 && Number(v[0].value[1]) === hovers ? Number(v[0].value[1]) : null;
      });
      const p50 = await promQuery(base, 'histogram_quantile(0.5, sum by (le) (lsptap_request_duration_seconds_bucket{job="lsptap",method="textDocument/hover"}))');
      promP50 = Number(p50[0].value[1]);
      exposition = (await httpGet(`http://127.0.0.1:${lsptapPort}/metrics`)).body;
      // Every query of the Grafana dashboard in docs/ is valid PromQL on these metrics.
      const dashboard = JSON.parse(fs.readFileSync(path.join(repoRoot, 'docs', 'grafana-dashboard.json'), 'utf8')) as { panels: { title: string; targets: { expr: string }[] }[] };
      for (const panel of dashboard.panels) {
        for (const { expr } of panel.targets) {
          const q = expr.replace(/\$developer|\$method/g, '.*').replace(/\$__rate_interval/g, '1m');
          await promQuery(base, q);
          for (const name of q.match(/lsptap_[a-z_]+/g) ?? []) assert.match(exposition, new RegExp(`^# TYPE ${name.replace(/_(bucket|count|sum)$/, '')} `, 'm'), `${panel.title}: ${name} is exported`);
        }
      }
      const outDir = path.join(repoRoot, 'test-output');
      fs.mkdirSync(outDir, { recursive: true });
      fs.writeFileSync(path.join(outDir, 'prometheus-query.json'), JSON.stringify({ [countQuery]: promCount, 'histogram_quantile(0.5, sum by (le) (lsptap_request_duration_seconds_bucket{job="lsptap",method="textDocument/hover"}))': promP50 }, null, 2) + '\n');
      fs.writeFileSync(path.join(outDir, 'metrics.txt'), exposition);
    },
  });
  assert.equal(r.exitCode, 0);

  const start = readLog(log).find((l) => l.msg === 'session start')!;
  assert.equal(start.metricsUrl, `http://127.0.0.1:${lsptapPort}/metrics`);
  const hoverLines = readLog(log).filter((l) => l.msg === 'message' && l.method === 'textDocument/hover');
  const responses = hoverLines.filter((l) => l.kind === 'response');
  assert.equal(hoverLines.filter((l) => l.kind === 'request').length, hovers);
  assert.equal(promCount, responses.length);
  assert.match(exposition, new RegExp(`^lsptap_messages_total\\{dir="c2s",kind="request",method="textDocument/hover"\\} ${hovers}$`, 'm'));

  // histogram_quantile interpolates inside the bucket holding the median: same bucket as the log's.
  const medianS = quantile(Float64Array.from(responses.map((l) => l.latencyMs as number)).sort(), 0.5) / 1000;
  const upper = LATENCY_BUCKETS_S.find((b) => medianS <= b) ?? Infinity;
  const lower = [0, ...LATENCY_BUCKETS_S].filter((b) => b < upper).pop()!;
  assert.ok(promP50 >= lower && promP50 <= upper, `Prometheus p50 ${promP50}s outside the log median's bucket (${lower}, ${upper}] (median ${medianS}s)`);
  t.diagnostic(`hover count ${promCount}, Prometheus p50 ${(promP50 * 1000).toFixed(3)} ms, log median ${(medianS * 1000).toFixed(3)} ms, bucket (${lower}, ${upper}] s`);
});

const rec = (over: Partial<MessageRecord>): MessageRecord => ({
  dir: 'c2s', kind: 'request', method: 'textDocument/hover', id: 1, bytes: 100, headerBytes: 22, offset: 0,
  firstByteNs: 0n, lastByteNs: 0n, forwardedNs: 0n, clock: 'js', isError: null, latencyMs: null, request: null, cancelled: false,
  cancelsId: null, invalidReason: null, unmatched: false, body: null, kernel: null, ...over,
});

test('metrics name units, track in-flight requests, and observe kernel parts in seconds', async () => {
  const m = new LsptapMetrics();
  m.add(rec({}));
  let text = await m.registry.metrics();
  assert.match(text, /^lsptap_requests_in_flight\{dir="c2s",method="textDocument\/hover"\} 1$/m);
  m.add(rec({ dir: 's2c', kind: 'response', latencyMs: 3, isError: false, kernel: { serverCpuUs: 1500, toEditorPipeUs: null } }));
  m.badInput('s2c');
  m.addRingBufferDrops(2);
  text = await m.registry.metrics();
  assert.match(text, /^lsptap_requests_in_flight\{dir="c2s",method="textDocument\/hover"\} 0$/m);
  assert.match(text, /^lsptap_request_duration_seconds_bucket\{le="0.005",dir="c2s",method="textDocument\/hover"\} 1$/m);
  assert.match(text, /^lsptap_request_duration_seconds_bucket\{le="0.002",dir="c2s",method="textDocument\/hover"\} 0$/m);
  assert.match(text, /^lsptap_kernel_part_seconds_sum\{dir="c2s",method="textDocument\/hover",part="serverCpuUs"\} 0.0015$/m);
  assert.doesNotMatch(text, /part="toEditorPipeUs"/);
  assert.match(text, /^lsptap_message_bytes_total\{dir="s2c",method="textDocument\/hover"\} 122$/m);
  assert.match(text, /^lsptap_frame_errors_total\{dir="s2c"\} 1$/m);
  assert.match(text, /^lsptap_kernel_ring_buffer_drops_total 2$/m);
});

test('the method label is capped: later and odd-looking methods are reported as "other" and counted', async () => {
  const m = new LsptapMetrics(3);
  for (const method of ['a/one', 'a/two', 'a/three', 'a/four', 'weird method{}"']) m.add(rec({ kind: 'notification', method }));
  const text = await m.registry.metrics();
  const methods = [...text.matchAll(/^lsptap_messages_total\{[^}]*method="([^"]*)"\}/gm)].map((x) => x[1]);
  assert.deepEqual(methods.sort(), ['a/one', 'a/three', 'a/two', 'other']);
  assert.match(text, /^lsptap_messages_total\{dir="c2s",kind="notification",method="other"\} 2$/m);
  assert.match(text, /^lsptap_metrics_method_overflow_total 2$/m);
});

test('--metrics serves on a unix socket and counts each bad-input line as a frame error; a bad address is a one-sentence usage error', async (t) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'lsptap-metrics-'));
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
  const sock = path.join(dir, 'metrics.sock');
  const child = spawn(process.execPath, [lsptapBin, '--log', path.join(dir, 'log.jsonl'), '--metrics', `unix:${sock}`, '--', 'cat'], { stdio: ['pipe', 'pipe', 'inherit'] });
  t.after(() => { if (child.exitCode === null) child.kill('SIGKILL'); });
  const body = '{"jsonrpc":"2.0","id":1,"method":"initialize","params":{}}';
  child.stdin.write(`Content-Length: abc\r\n\r\n{}Content-Length: ${body.length}\r\n\r\n${body}`);
  const text = await waitFor('metrics on the unix socket', 10_000, async () => {
    const r = await httpGet({ socketPath: sock, path: '/metrics' });
    return /kind="request",method="initialize"\} 1/.test(r.body) && /kind="request",method="initialize"\} 1[^]*dir="s2c",kind="request",method="initialize"/.test(r.body) ? r.body : null;
  });
  // cat echoes the request back, so the server "sent" a request too.
  assert.match(text, /^lsptap_messages_total\{dir="c2s",kind="request",method="initialize"\} 1$/m);
  child.stdin.end();
  await new Promise((r) => child.once('exit', r));
  // Each bad-input line of the log is one frame error, in its direction.
  const badInput = readLog(path.join(dir, 'log.jsonl')).filter((l) => l.msg === 'bad input');
  for (const d of ['c2s', 's2c']) {
    const n = badInput.filter((l) => l.dir === d).length;
    assert.ok(n > 0, `a bad input line for ${d}`);
    assert.match(text, new RegExp(`^lsptap_frame_errors_total\\{dir="${d}"\\} ${n}$`, 'm'));
  }
  assert.equal(fs.existsSync(sock), false, 'the socket is removed on exit');

  const bad = spawnSync(process.execPath, [lsptapBin, '--metrics', 'localhost:9464', '--', 'cat'], { encoding: 'utf8', input: '' });
  assert.equal(bad.status, 2);
  assert.equal(bad.stderr, 'lsptap: --metrics needs tcp:HOST:PORT or unix:PATH (e.g. tcp:127.0.0.1:9464), got "localhost:9464"\n');
});
