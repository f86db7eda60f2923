// The composition root of one session on the analysis thread: its log child, which stage
// its records pass through (kernel timing) and which sinks receive them (the summary, the
// metrics), what the `session start` line gains, and how it all stops. The only place
// that knows all of them; analysis-host.ts only dispatches the relay thread's records.

import type { KernelTiming, RecordSink, RecordStage, StreamCut } from '../model/stages';
import type { LsptapMetrics, MetricsServer } from '../sinks/metrics';
import { Summary } from '../sinks/summary';
import type { SessionLog, SessionLogChild, SessionStartInfo } from '../sinks/session-log';
import type { SessionStartRequest, StartReply } from '../bridge/protocol';
import { prepareKernelTiming, type KernelOption } from '../probes/kernel-option';
import type { ProfileSinkFactory } from '../probes/kernel-timing';
import { ProfileWriter } from '../sinks/profile-writer';
import type { AnalysisConfig } from '../bridge/protocol';
import { Session, type SessionOptions } from './session';
import { InitializeFacts } from './initialize-facts';

/** `--metrics ADDR`: the registry and the server that exposes it, shared by every session. */
export interface MetricsServing {
  metrics: LsptapMetrics;
  server: MetricsServer;
}

/** Start serving before any server is spawned: a bad address is a startup error. */
export async function startMetricsServing(address: string): Promise<MetricsServing> {
  // Loaded only when asked for: prom-client adds tens of ms to every start.
  const m = require('../sinks/metrics') as typeof import('../sinks/metrics');
  const metrics = new m.LsptapMetrics();
  const server = await m.serveMetrics(metrics, m.parseMetricsAddress(address));
  return { metrics, server };
}

export interface SessionParts {
  stage: RecordStage | null;
  sinks: RecordSink[];
  /** Fields added to the `session start` line. */
  extraStart: Record<string, unknown>;
  /** Stop the parts; the result is added to `session end`. */
  stop(): Promise<Record<string, unknown>>;
  /** Kernel timing of a session already relaying starts from the relay thread's counts; null when there is none to start. */
  cut: ((at: StreamCut) => void) | null;
}

export function composeSession(summary: Summary, kernel: KernelTiming | null, serving: MetricsServing | null): SessionParts {
  const initialize = new InitializeFacts();
  const sinks: RecordSink[] = [summary, initialize];
  const extraStart: Record<string, unknown> = { ...(kernel?.extraStart ?? {}) };
  let poll: NodeJS.Timeout | null = null;
  let readDrops = (): void => undefined;
  if (serving !== null) {
    sinks.push(serving.metrics);
    extraStart.metricsUrl = serving.server.url;
    if (kernel !== null) {
      // Kernel drops live in BPF counter maps: read them once a second (not per event) and
      // a last time when the session stops.
      let counted = 0;
      readDrops = (): void => {
        const total = kernel.kernelDrops();
        serving.metrics.addRingBufferDrops(total - counted);
        counted = total;
      };
      poll = setInterval(readDrops, 1000);
      poll.unref();
    }
  }
  let stopped = false;
  return {
    stage: kernel?.stage ?? null,
    sinks,
    cut: kernel?.cut ?? null,
    extraStart,
    stop: async () => {
      if (stopped) return {};
      stopped = true;
      if (poll !== null) clearInterval(poll);
      const extra = kernel === null ? {} : await kernel.stop();
      readDrops();
      return { ...initialize.fields, ...extra };
    },
  };
}

/** The probes loaded and metrics served, once per thread, before any server starts; failures are startup errors. */
export async function prepareThreadParts(config: AnalysisConfig): Promise<{ ok: true; kernel: KernelOption; metrics: MetricsServing | null } | { ok: false; kind: 'bpf' | 'metrics'; message: string }> {
  let kernel: KernelOption;
  try {
    kernel = prepareKernelTiming(config.bpf, config.profileHz);
  } catch (err) {
    return { ok: false, kind: 'bpf', message: (err as Error).message };
  }
  if (config.metricsAddress === null) return { ok: true, kernel, metrics: null };
  try {
    return { ok: true, kernel, metrics: await startMetricsServing(config.metricsAddress) };
  } catch (err) {
    kernel.close();
    return { ok: false, kind: 'metrics', message: (err as Error).message };
  }
}

/** What every session of this thread shares: the log, the loaded probes, the metrics server. */
export interface SharedParts {
  log: SessionLog;
  kernel: KernelOption;
  metrics: MetricsServing | null;
  /** The log's file, or null (stderr): a session's profile file goes beside it. */
  logPath: string | null;
}

export interface ComposedSession {
  log: SessionLogChild;
  session: Session;
  parts: SessionParts;
  reply: StartReply;
}

/** Build one session: its log child, kernel timing, summary and sinks; write `session start`. */
export function openComposedSession(shared: SharedParts, c: SessionStartRequest, skims: SessionOptions['skims'] = null): ComposedSession {
  const log = shared.log.child({ session: c.sessionId });
  const { kernel, refuse, off } = shared.kernel.attach(c.kernel, log, c.kernelOffReason, profileFileBeside(shared.logPath));
  const summary = new Summary();
  const parts = composeSession(summary, kernel, shared.metrics);
  const startNs = BigInt(c.startNs);
  const session = new Session({ log, startNs, retainBodyMax: c.retainBodyMax, stage: parts.stage, summary, sinks: parts.sinks, skims });
  log.sessionStart({ ...c.fields, startNs, ...parts.extraStart } as SessionStartInfo);
  if (off !== null) log.warn('kernel timing off', off);
  return { log, session, parts, reply: { refuse, cut: parts.cut !== null } };
}

/** The session's profile file beside its log (sinks/profile-writer.ts), opened when profiling starts; none with the log on stderr. */
function profileFileBeside(logPath: string | null): ProfileSinkFactory | null {
  if (logPath === null) return null;
  return (hz) => {
    const w = ProfileWriter.open(logPath, { hz });
    return { path: w.totals.path, add: (samples) => w.add(samples), close: () => w.close() };
  };
}
