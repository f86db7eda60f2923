// `--metrics ADDR` on the proxy: start serving before the server is spawned (a bad address
// is a startup error, one sentence and exit 2), add the record sink and the bad-input hook
// to whatever else attaches to the session (kernel timing), and stop serving when the
// session is over. The metrics URL goes into the `session start` line.

import { LsptapMetrics, parseMetricsAddress, serveMetrics } from './metrics';
import type { StdioProxyOptions } from '../proxy/stdio-proxy';

type OnServerSpawned = NonNullable<StdioProxyOptions['onServerSpawned']>;

export interface ProxyMetrics {
  metrics: LsptapMetrics;
  /** Wrap another onServerSpawned hook (or none) so the session also feeds the metrics. */
  attach(inner?: OnServerSpawned): OnServerSpawned;
  close(): Promise<void>;
}

export async function startProxyMetrics(address: string): Promise<ProxyMetrics> {
  const metrics = new LsptapMetrics();
  const server = await serveMetrics(metrics, parseMetricsAddress(address));
  return {
    metrics,
    attach: (inner) => (...args) => {
      const a = inner?.(...args) ?? {};
      const onBadInput = a.onBadInput;
      return {
        ...a,
        sinks: [...(a.sinks ?? []), metrics.record],
        onBadInput: onBadInput === undefined ? metrics.badInput : (dir) => { onBadInput(dir); metrics.badInput(dir); },
        extraStart: { ...(a.extraStart ?? {}), metricsUrl: server.url },
      };
    },
    close: () => server.close(),
  };
}
