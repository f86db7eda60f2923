// `--metrics ADDR` on the proxy: start serving before the server is spawned (a bad address
// is a startup error, one sentence and exit 2), hand the record sink and the bad-input hook
// to the session, and stop serving when the session is over. The metrics URL goes into the
// `session start` line so a person can find it.

import { LsptapMetrics, parseMetricsAddress, serveMetrics } from './metrics';
import type { RecordSink } from '../proxy/session';
import type { Direction } from '../proxy/frame';

export interface ProxyMetrics {
  metrics: LsptapMetrics;
  attach: { sinks: RecordSink[]; onBadInput: (dir: Direction) => void; extraStart: Record<string, unknown> };
  close(): Promise<void>;
}

export async function startProxyMetrics(address: string): Promise<ProxyMetrics> {
  const metrics = new LsptapMetrics();
  const server = await serveMetrics(metrics, parseMetricsAddress(address));
  return {
    metrics,
    attach: { sinks: [metrics.record], onBadInput: metrics.badInput, extraStart: { metricsUrl: server.url } },
    close: () => server.close(),
  };
}
