// Kernel ring-buffer drops reach the Prometheus counter: read from kernel timing's counter
// maps once a second while the session runs, and once more when it stops.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { composeSession, startMetricsServing, type MetricsServing } from '../src/analysis/session-parts';
import { Summary } from '../src/sinks/summary';
import type { RecordStage } from '../src/model/stages';

async function dropsMetric(metrics: MetricsServing): Promise<number> {
  const text = await metrics.metrics.registry.metrics();
  const m = /^lsptap_kernel_ring_buffer_drops_total (\d+)$/m.exec(text);
  assert.ok(m, 'the drop counter is exported');
  return Number(m[1]);
}

test('counts the kernel drops kernel timing reports, while running and at stop', async (t) => {
  const metrics = await startMetricsServing('tcp:127.0.0.1:0');
  t.after(() => metrics.server.close());
  let kernelTotal = 0;
  // The session polls the counter maps on a one-second interval: the test moves that clock.
  t.mock.timers.enable({ apis: ['setInterval'] });
  const stage: RecordStage = { push: (rec, next) => next(rec), flush: () => Promise.resolve() };
  const a = composeSession(new Summary(), { stage, extraStart: {}, kernelDrops: () => kernelTotal, stop: () => Promise.resolve({}) }, metrics);
  assert.equal(await dropsMetric(metrics), 0);
  kernelTotal = 7;
  t.mock.timers.tick(1000); // one poll
  assert.equal(await dropsMetric(metrics), 7);
  kernelTotal = 12;
  await a.stop();
  assert.equal(await dropsMetric(metrics), 12, 'the last read happens at stop');
});
