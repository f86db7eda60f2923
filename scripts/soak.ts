// npm run soak: 100,000 client messages of a realistic mix through lsptap against the
// scripted server test/fixtures/lsp-server.js, for a bounded time (SOAK_MAX_S, default 600):
// small requests, bursts of 1 MB didChange notifications, server->client requests,
// cancellations, and requests the server never answers (10,000 first, filling the pairing
// table to its bound, then 2 in every 100 messages, each evicting the oldest).
// lsptap's RSS and event-loop delay are sampled every second inside lsptap (soak-probe).
// Prints the samples' summary and the session end line's pairing figures. Env: SOAK_MESSAGES
// (100000), SOAK_SECONDS (pace them over 60 s), SOAK_WARMUP_SHARE (0.5), SOAK_MAX_S (600),
// LSPTAP_SOAK_GC=1 (full GC before each sample, to see the retained heap), SOAK_LSPTAP_ARGS
// (extra lsptap options, e.g. --bpf=off).

import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { CancellationTokenSource, createMessageConnection, StreamMessageReader, StreamMessageWriter } from 'vscode-jsonrpc/node';

const root = path.resolve(__dirname, '..', '..');
const total = Number(process.env.SOAK_MESSAGES ?? 100_000);
const maxMs = Number(process.env.SOAK_MAX_S ?? 600) * 1000;
/** The messages are paced over this many seconds (0: as fast as lsptap takes them). */
const paceMs = Number(process.env.SOAK_SECONDS ?? 60) * 1000;
/**
 * RSS "after warm-up" is the first sample past this share of the run. Half: V8 grows its
 * young generation in steps up to its cap over roughly the first 50,000 messages (RSS climbs
 * by ~30 MiB while the heap retained after a full GC stays flat, LSPTAP_SOAK_GC=1 shows it).
 */
const warmUpShare = Number(process.env.SOAK_WARMUP_SHARE ?? 0.5);

interface Sample { thread: 'relay' | 'analysis'; tMs: number; rssBytes: number; heapUsedBytes: number; delayP50Ms: number; delayP99Ms: number; delayMaxMs: number }

async function main(): Promise<number> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'lsptap-soak-'));
  const samplesFile = path.join(dir, 'samples.jsonl');
  const logFile = path.join(dir, 'lsptap.jsonl');
  const lsptapArgs = (process.env.SOAK_LSPTAP_ARGS ?? '').split(' ').filter((a) => a !== '');
  const gcFlags = process.env.LSPTAP_SOAK_GC === '1' ? ['--expose-gc'] : [];
  const child = spawn(process.execPath, [...gcFlags, '--require', path.join(root, 'dist', 'scripts', 'soak-probe.js'), path.join(root, 'bin', 'lsptap'), ...lsptapArgs, '--log', logFile, '--',
    process.execPath, path.join(root, 'test', 'fixtures', 'lsp-server.js')], { stdio: ['pipe', 'pipe', 'inherit'], env: { ...process.env, LSPTAP_SOAK_SAMPLES: samplesFile } });
  const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
  const conn = createMessageConnection(new StreamMessageReader(child.stdout), new StreamMessageWriter(child.stdin));
  let answeredConfig = 0;
  conn.onRequest('workspace/configuration', () => { answeredConfig++; return [{}]; });
  conn.listen();
  const t0 = Date.now();
  await conn.sendRequest('initialize', { capabilities: {} });
  let sent = 1;
  const mb = 'x'.repeat(1 << 20);
  const counts = { small: 0, didChange: 0, ask: 0, cancelled: 0, unanswered: 0 };
  let round = 0;
  // Fill phase: 10,000 requests the server never answers, held by the pairing table to the
  // end (it holds up to MAX_PENDING = 1,000,000 per direction, so none is evicted).
  for (let i = 0; i < 10_000; i++) { conn.sendRequest('test/noAnswer', {}).catch(() => null); counts.unanswered++; }
  sent += 10_000;
  await conn.sendRequest('test/echo', {});
  sent++;
  while (sent < total - 2 && Date.now() - t0 < maxMs) {
    round++;
    const batch: Promise<unknown>[] = [];
    // 100 client messages a round: 82 small requests, 8 asks (each makes the server send the
    // client a workspace/configuration request), 4 requests cancelled at once (+4
    // $/cancelRequest), 2 requests never answered; every 10th round, 5 of the small requests
    // give way to a burst of five 1 MB didChange notifications.
    const burst = round % 10 === 0;
    for (let i = 0; i < (burst ? 77 : 82); i++) { batch.push(conn.sendRequest('test/echo', { round, i })); counts.small++; }
    if (burst) for (let i = 0; i < 5; i++) { void conn.sendNotification('textDocument/didChange', { textDocument: { uri: 'file:///soak.go', version: round * 10 + i }, contentChanges: [{ text: mb }] }); counts.didChange++; }
    for (let i = 0; i < 8; i++) { batch.push(conn.sendRequest('test/ask', {})); counts.ask++; }
    for (let i = 0; i < 4; i++) {
      const cts = new CancellationTokenSource();
      batch.push(conn.sendRequest('test/sleep', { ms: 5 }, cts.token).catch(() => null));
      cts.cancel();
      counts.cancelled++;
    }
    for (let i = 0; i < 2; i++) { conn.sendRequest('test/noAnswer', {}).catch(() => null); counts.unanswered++; }
    sent += 100;
    await Promise.all(batch);
    const due = (sent / total) * paceMs - (Date.now() - t0);
    if (due > 0) await new Promise((r) => setTimeout(r, due));
  }
  await conn.sendRequest('shutdown');
  void conn.sendNotification('exit');
  sent += 2;
  const elapsedS = (Date.now() - t0) / 1000;
  const code = await exited;
  conn.dispose();
  await new Promise((r) => setTimeout(r, 200));
  const all = fs.readFileSync(samplesFile, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as Sample);
  // RSS is the process's; heap and event-loop delay are each thread's own.
  const samples = all.filter((s) => s.thread === 'relay');
  const analysis = all.filter((s) => s.thread === 'analysis');
  const lines = fs.readFileSync(logFile, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
  const end = lines.find((l) => l.msg === 'session end') ?? {};
  const messagesLogged = lines.filter((l) => l.msg === 'message').length;
  const warm = samples.find((s) => s.tMs >= warmUpShare * elapsedS * 1000) ?? samples[0];
  const early = samples.find((s) => s.tMs >= 10_000) ?? samples[0];
  const last = samples.filter((s) => s.tMs <= elapsedS * 1000).at(-1) ?? samples[samples.length - 1];
  const mib = (b: number): string => (b / 2 ** 20).toFixed(1);
  const pct = (xs: number[], p: number): number => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor((p / 100) * xs.length))];
  const rssChange = (last.rssBytes - warm.rssBytes) / warm.rssBytes;
  console.log(`soak: ${sent} client messages (${JSON.stringify(counts)}), ${answeredConfig} server->client requests answered, ${elapsedS.toFixed(1)} s, lsptap exit ${code}`);
  console.log(`soak: ${messagesLogged} message lines logged; session end: unansweredCount ${String(end.unansweredCount)}, evicted ${String(end.evicted)}, warnings ${JSON.stringify(end.warnings)}`);
  console.log(`soak: ${samples.length} samples; RSS after warm-up (t=${(warm.tMs / 1000).toFixed(0)} s) ${mib(warm.rssBytes)} MiB, at the end ${mib(last.rssBytes)} MiB (${(rssChange * 100).toFixed(1)} %), max ${mib(Math.max(...samples.map((s) => s.rssBytes)))} MiB`);
  console.log(`soak: RSS at t=${(early.tMs / 1000).toFixed(0)} s ${mib(early.rssBytes)} MiB, first sample ${mib(samples[0].rssBytes)} MiB`);
  console.log(`soak: heap used after warm-up ${mib(warm.heapUsedBytes)} MiB, at the end ${mib(last.heapUsedBytes)} MiB`);
  console.log(`soak: event-loop delay per second: median p50 ${pct(samples.map((s) => s.delayP50Ms), 50).toFixed(2)} ms, worst p99 ${Math.max(...samples.map((s) => s.delayP99Ms)).toFixed(2)} ms, worst max ${Math.max(...samples.map((s) => s.delayMaxMs)).toFixed(2)} ms`);
  if (analysis.length > 0) {
    const aWarm = analysis.find((s) => s.tMs >= warm.tMs) ?? analysis[0];
    console.log(`soak: analysis thread: heap used after warm-up ${mib(aWarm.heapUsedBytes)} MiB, at the end ${mib(analysis.at(-1)!.heapUsedBytes)} MiB; event-loop delay median p50 ${pct(analysis.map((s) => s.delayP50Ms), 50).toFixed(2)} ms, worst max ${Math.max(...analysis.map((s) => s.delayMaxMs)).toFixed(2)} ms (it runs behind the relay by design)`);
  }
  console.log(`soak: samples and log kept in ${dir}`);
  const ok = Math.abs(rssChange) <= 0.2 && code === 0;
  console.log(ok ? 'soak: PASS (RSS at the end within 20 % of warm-up)' : 'soak: FAIL');
  return ok ? 0 : 1;
}

main().then((c) => { process.exitCode = c; }, (e: unknown) => { console.error(e); process.exitCode = 1; });
