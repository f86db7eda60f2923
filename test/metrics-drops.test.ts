// Kernel ring-buffer drops reach the Prometheus counter: read from kernel timing's counter
// maps once a second while the session runs, and once more when it stops.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { startProxyMetrics } from '../src/sinks/metrics-option';

async function dropsMetric(metrics: Awaited<ReturnType<typeof startProxyMetrics>>): Promise<number> {
  const text = await metrics.metrics.registry.metrics();
  const m = /^lsptap_kernel_ring_buffer_drops_total (\d+)$/m.exec(text);
  assert.ok(m, 'the drop counter is exported');
  return Number(m[1]);
}

test('counts the kernel drops kernel timing reports, while running and at stop', async (t) => {
  const metrics = await startProxyMetrics('tcp:127.0.0.1:0');
  t.after(() => metrics.close());
  let kernelTotal = 0;
  const a = metrics.wrap({ kernelDrops: () => kernelTotal, stop: async () => ({}) });
  assert.equal(await dropsMetric(metrics), 0);
  kernelTotal = 7;
  await new Promise((r) => setTimeout(r, 1200)); // one poll
  assert.equal(await dropsMetric(metrics), 7);
  kernelTotal = 12;
  await a.stop!();
  assert.equal(await dropsMetric(metrics), 12, 'the last read happens at stop');
});
