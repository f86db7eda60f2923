// The benchmark's workloads. Each runs one fresh session of one mode and returns that run's
// figures; run.ts repeats and interleaves them. CPU and memory are the proxy process's own
// (from /proc while it is alive), so direct mode has none.

import { spawn } from 'node:child_process';
import fs from 'node:fs';
import { PassThrough } from 'node:stream';
import { createMessageConnection, StreamMessageReader, StreamMessageWriter } from 'vscode-jsonrpc/node';
import { answerServerRequests, runGoplsScript } from '../src/demo/gopls-script';
import { EchoClient, smallRequest } from './echo-client';
import { waitUntilLogged } from './log-lag';
import { ringFigures } from './kernel-events';
import { WireReader } from './lsp-wire';
import { ECHO_SERVER, type Mode } from './modes';
import { CpuSampler, cpuUs, memoryKb } from './proc-stats';
import { median, percentile } from './stats';

/** One run's figures, by metric name. */
export type RunFigures = Record<string, number>;

export interface WorkloadSizes {
  latencyWarmup: number;
  latencyRequests: number;
  throughputWarmup: number;
  throughputRequests: number;
  largeBytes: number[];
  /** Runs of each start-up command per repeat (startup.ts). */
  startupRuns: number;
}

export const FULL_SIZES: WorkloadSizes = { latencyWarmup: 1000, latencyRequests: 5000, throughputWarmup: 2000, throughputRequests: 20_000, largeBytes: [10e6, 50e6], startupRuns: 10 };
export const QUICK_SIZES: WorkloadSizes = { latencyWarmup: 100, latencyRequests: 500, throughputWarmup: 200, throughputRequests: 2000, largeBytes: [1e6, 5e6], startupRuns: 3 };

const now = (): bigint => process.hrtime.bigint();
const sinceUs = (t0: bigint): number => Number(now() - t0) / 1e3;

function cpuDelta(mode: Mode, pid: number, beforeUs: number | null): number | null {
  if (!mode.proxied || beforeUs === null) return null;
  const after = cpuUs(pid);
  return after === null ? null : after - beforeUs;
}

/**
 * lsptap modes: wait until the last response is in the log, so the CPU read next includes
 * the analysis that ran behind the relay; report that wait as logLagMs.
 */
async function logLag(mode: Mode, logPath: string, lastId: number): Promise<{ logLagMs?: number }> {
  if (!mode.name.startsWith('lsptap')) return {};
  const ms = await waitUntilLogged(logPath, lastId);
  if (ms === null) throw new Error(`${mode.name}: the response to request ${lastId} never reached the log`);
  return { logLagMs: ms };
}

/**
 * lsptap modes: wait until the warm-up's last answer is in the log before the measured part
 * starts. The analysis runs behind the relay, coldest during the warm-up (the JIT compiling
 * its code): without this wait, what was left of the warm-up's analysis, and how much
 * depended on the machine's load, was counted as the measured messages' CPU.
 */
async function warmUpLogged(mode: Mode, logPath: string, lastId: number): Promise<void> {
  await logLag(mode, logPath, lastId);
}

function withCpu(figures: RunFigures, cpuUsed: number | null, messages: number): RunFigures {
  if (cpuUsed !== null) figures.cpuPerMsgUs = cpuUsed / messages;
  return figures;
}

/** 1. Round-trip latency: one small request at a time, after a warm-up. */
export async function latency(mode: Mode, logPath: string, sizes: WorkloadSizes): Promise<RunFigures> {
  const client = new EchoClient(mode.wrap(ECHO_SERVER, logPath));
  try {
    let id = 0;
    for (let i = 0; i < sizes.latencyWarmup; i++) { id++; await client.request(id, smallRequest(id)); }
    await warmUpLogged(mode, logPath, id);
    const frames = Array.from({ length: sizes.latencyRequests }, (_, i) => smallRequest(id + 1 + i));
    const cpu0 = mode.proxied ? cpuUs(client.pid) : null;
    const samples = new Float64Array(sizes.latencyRequests);
    for (let i = 0; i < sizes.latencyRequests; i++) {
      id++;
      const t0 = now();
      await client.request(id, frames[i]);
      samples[i] = sinceUs(t0);
    }
    const lag = await logLag(mode, logPath, id);
    const cpu = cpuDelta(mode, client.pid, cpu0);
    await client.close();
    const s = Array.from(samples);
    return withCpu({ p50Us: percentile(s, 50), p90Us: percentile(s, 90), p99Us: percentile(s, 99), ...lag }, cpu, 2 * sizes.latencyRequests);
  } finally { client.kill(); }
}

/** 2. Throughput: N requests written at once, timed until the last response. */
export async function throughput(mode: Mode, logPath: string, sizes: WorkloadSizes): Promise<RunFigures> {
  const client = new EchoClient(mode.wrap(ECHO_SERVER, logPath));
  try {
    const batch = (from: number, n: number): Buffer => Buffer.concat(Array.from({ length: n }, (_, i) => smallRequest(from + i)));
    await client.pipelined(batch(1, sizes.throughputWarmup), sizes.throughputWarmup);
    await warmUpLogged(mode, logPath, sizes.throughputWarmup);
    const frames = batch(1 + sizes.throughputWarmup, sizes.throughputRequests);
    const in0 = client.bytesIn;
    const cpu0 = mode.proxied ? cpuUs(client.pid) : null;
    const t0 = now();
    await client.pipelined(frames, sizes.throughputRequests);
    const seconds = sinceUs(t0) / 1e6;
    const bytes = frames.length + (client.bytesIn - in0);
    const lag = await logLag(mode, logPath, sizes.throughputWarmup + sizes.throughputRequests);
    const cpu = cpuDelta(mode, client.pid, cpu0);
    await client.close();
    const messages = 2 * sizes.throughputRequests;
    return withCpu({ msgsPerS: messages / seconds, mbPerS: bytes / seconds / 1e6, ...lag }, cpu, messages);
  } finally { client.kill(); }
}

/** 3. One large didOpen, answered by a small publishDiagnostics: delivery time and proxy memory. */
export async function large(mode: Mode, logPath: string, frame: Buffer): Promise<RunFigures> {
  const client = new EchoClient(mode.wrap(ECHO_SERVER, logPath));
  try {
    for (let id = 1; id <= 200; id++) await client.request(id, smallRequest(id));
    const mem0 = mode.proxied ? memoryKb(client.pid) : null;
    const cpu0 = mode.proxied ? cpuUs(client.pid) : null;
    const t0 = now();
    const received = await client.notifyAndAwaitNotification(frame);
    const deliveryMs = sinceUs(t0) / 1e3;
    const cpu = cpuDelta(mode, client.pid, cpu0);
    const mem1 = mode.proxied ? memoryKb(client.pid) : null;
    await client.close();
    if (received <= 0) throw new Error('large message: the echo server did not answer');
    const figures: RunFigures = { deliveryMs };
    if (mem0 !== null && mem1 !== null) {
      figures.peakRssMb = mem1.hwmKb / 1024;
      figures.rssGrowthMb = (mem1.hwmKb - mem0.rssKb) / 1024;
    }
    return withCpu(figures, cpu, 2);
  } finally { client.kill(); }
}

/** Counts Content-Length frames going by on a stream without holding bodies. */
function countFrames(): { stream: PassThrough; count: () => number } {
  let n = 0;
  const reader = new WireReader(() => { n++; }, 0);
  const stream = new PassThrough();
  stream.on('data', (c: Buffer) => reader.push(c));
  return { stream, count: () => n };
}

/** Issue 27: lsptap's CPU as a share of the server tree's, from `session end`; with profiling, what it lost. */
function cpuShare(mode: Mode, logPath: string): RunFigures {
  if (!mode.name.startsWith('lsptap')) return {};
  const end = fs.readFileSync(logPath, 'utf8').split('\n').filter((l) => l.includes('"msg":"session end"')).pop();
  if (end === undefined) return {};
  const { lsptapCpuMs, serverCpuMs, kernel } = JSON.parse(end) as { lsptapCpuMs?: number; serverCpuMs?: number | null; kernel?: { profile?: { lostSamples?: number; lostStacks?: number } } };
  const figures: RunFigures = typeof lsptapCpuMs === 'number' && typeof serverCpuMs === 'number' && serverCpuMs > 0 ? { cpuSharePct: (100 * lsptapCpuMs) / serverCpuMs, serverCpuMs } : {};
  // Issue 26: samples (or their stacks) the kernel's profile maps had no room for.
  const p = kernel?.profile;
  if (typeof p?.lostSamples === 'number') figures.profileLost = p.lostSamples + (p.lostStacks ?? 0);
  return figures;
}

/** 4. The demo's scripted gopls session on the Go standard library: wall time, per-method p50. */
export async function goplsSession(mode: Mode, logPath: string, srcRoot: string): Promise<RunFigures> {
  const t0 = now();
  const cmd = mode.wrap(['gopls'], logPath);
  const child = spawn(cmd[0], cmd.slice(1), { cwd: srcRoot, stdio: ['pipe', 'pipe', 'ignore'] });
  const sampler = mode.proxied && child.pid !== undefined ? new CpuSampler(child.pid) : null;
  const exited = new Promise<number>((resolve) => child.once('exit', (code) => resolve(code ?? 1)));
  const c2s = countFrames();
  const s2c = countFrames();
  c2s.stream.pipe(child.stdin);
  child.stdout.on('data', (c: Buffer) => s2c.stream.write(c));
  const conn = createMessageConnection(new StreamMessageReader(child.stdout), new StreamMessageWriter(c2s.stream));
  answerServerRequests(conn);
  conn.listen();
  try {
    const steps = await runGoplsScript(conn, srcRoot);
    const code = await exited;
    const wallMs = sinceUs(t0) / 1e3;
    const cpu = sampler?.stop() ?? null;
    const failed = steps.filter((s) => !s.ok);
    if (code !== 0 || failed.length > 0) throw new Error(`gopls session: exit ${code}; failed steps: ${failed.map((s) => `${s.method}: ${s.detail}`).join('; ')}`);
    // Issue 14: the ring buffers' traffic and losses over a real session.
    const figures: RunFigures = { wallMs, ...(mode.name === 'lsptap-kernel' ? ringFigures(logPath, wallMs) : {}), ...cpuShare(mode, logPath) };
    const byMethod = new Map<string, number[]>();
    for (const s of steps) byMethod.set(s.method, [...(byMethod.get(s.method) ?? []), s.ms]);
    for (const [method, ms] of byMethod) figures[`p50Ms ${method}`] = median(ms);
    return withCpu(figures, cpu, c2s.count() + s2c.count());
  } finally {
    conn.dispose();
    sampler?.stop();
    child.kill('SIGKILL');
  }
}
