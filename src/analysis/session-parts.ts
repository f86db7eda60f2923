// The composition root of one session on the analysis thread: which stage its records pass
// through (kernel timing) and which sinks receive them (the summary, the metrics), what the
// `session start` line gains, and how it all stops. The only place that knows all of them.

import type { RecordSink, RecordStage } from '../model/stages';
import type { LsptapMetrics, MetricsServer } from '../sinks/metrics';
import type { Summary } from '../sinks/summary';

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

/** What kernel timing hands a session (probes/kernel-timing's KernelSession). */
export interface KernelPart {
  stage: RecordStage;
  extraStart: Record<string, unknown>;
  stop(): Promise<Record<string, unknown>>;
  /** Events the kernel dropped so far (ring buffers full), read from the counter maps. */
  kernelDrops(): number;
}

export interface SessionParts {
  stage: RecordStage | null;
  sinks: RecordSink[];
  /** Fields added to the `session start` line. */
  extraStart: Record<string, unknown>;
  /** Stop the parts; the result is added to `session end`. */
  stop(): Promise<Record<string, unknown>>;
}

export function composeSession(summary: Summary, kernel: KernelPart | null, serving: MetricsServing | null): SessionParts {
  const sinks: RecordSink[] = [summary];
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
    extraStart,
    stop: async () => {
      if (stopped) return {};
      stopped = true;
      if (poll !== null) clearInterval(poll);
      const extra = kernel === null ? {} : await kernel.stop();
      readDrops();
      return extra;
    },
  };
}
