// `--metrics ADDR` on the proxy: start serving before the server is spawned (a bad address
// is a startup error, one sentence and exit 2), add the record sink and the bad-input hook
// to whatever else attaches to the session (kernel timing), and stop serving when the
// session is over. The metrics URL goes into the `session start` line.

import { LsptapMetrics, parseMetricsAddress, serveMetrics } from './metrics';
import type { SessionAttachment } from '../proxy/session';

export interface ProxyMetrics {
  metrics: LsptapMetrics;
  /** Extend what else attaches to a session (kernel timing) so the session also feeds the metrics. */
  wrap(inner: SessionAttachment): SessionAttachment;
  close(): Promise<void>;
}

export async function startProxyMetrics(address: string): Promise<ProxyMetrics> {
  const metrics = new LsptapMetrics();
  const server = await serveMetrics(metrics, parseMetricsAddress(address));
  return {
    metrics,
    wrap: (a) => {
      const onBadInput = a.onBadInput;
      // Kernel drops live in BPF counter maps: read them once a second (not per event) and
      // a last time when the session stops.
      let counted = 0;
      const readDrops = (): void => {
        const total = a.kernelDrops?.() ?? 0;
        metrics.addRingBufferDrops(total - counted);
        counted = total;
      };
      const poll = a.kernelDrops === undefined ? null : setInterval(readDrops, 1000);
      poll?.unref();
      const innerStop = a.stop;
      return {
        ...a,
        stop: poll === null ? innerStop : async () => {
          clearInterval(poll);
          const extra = innerStop === undefined ? {} : await innerStop();
          readDrops();
          return extra;
        },
        sinks: [...(a.sinks ?? []), metrics.record],
        onBadInput: onBadInput === undefined ? metrics.badInput : (dir) => { onBadInput(dir); metrics.badInput(dir); },
        extraStart: { ...(a.extraStart ?? {}), metricsUrl: server.url },
      };
    },
    close: () => server.close(),
  };
}
