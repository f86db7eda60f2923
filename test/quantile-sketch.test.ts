// The summary's percentiles (src/sinks/quantile-sketch.ts): within the stated relative
// accuracy of the exact quantile of the values pushed, and exact for a method answered once.
// Seeds are printed; LSPTAP_SEED replays.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { propertyParams } from './helpers/framing-oracle';
import { QuantileSketch, RELATIVE_ACCURACY } from '../src/sinks/quantile-sketch';
import { Summary } from '../src/sinks/summary';
import type { MessageRecord } from '../src/model/record';

/** The value at rank q·(n−1), rounded down: the sample DDSketch's guarantee is stated for. */
function lowerRankQuantile(sorted: number[], q: number): number {
  return sorted[Math.floor(q * (sorted.length - 1))];
}

// Latencies from 1 µs to 8 minutes, in ms (within the span the sketch keeps), and clusters of
// near-equal ones.
const latency = fc.oneof(
  fc.double({ min: 1e-3, max: 5e5, noNaN: true }),
  fc.integer({ min: 1, max: 5000 }).map((n) => n / 1000),
  fc.double({ min: 0.1, max: 0.2, noNaN: true }),
);

test('gives every percentile within its relative accuracy of the exact one', (t) => {
  fc.assert(fc.property(fc.array(latency, { minLength: 1, maxLength: 3000 }), (values) => {
    const s = new QuantileSketch();
    for (const v of values) s.push(v);
    const sorted = [...values].sort((a, b) => a - b);
    for (const q of [0, 0.5, 0.9, 0.99, 1]) {
      const exact = lowerRankQuantile(sorted, q);
      const got = s.quantile(q);
      assert.ok(Math.abs(got - exact) <= RELATIVE_ACCURACY * exact * (1 + 1e-9), `q ${q}: ${got} vs exact ${exact}`);
    }
    assert.equal(s.count, values.length);
  }), propertyParams(t, 300));
});

test('reads the one latency of a method answered once exactly, and counts zero latencies', () => {
  const one = new QuantileSketch();
  one.push(12.345);
  assert.deepEqual([one.quantile(0.5), one.quantile(0.99)], [12.345, 12.345]);
  const zeros = new QuantileSketch();
  for (let i = 0; i < 10; i++) zeros.push(0);
  zeros.push(3);
  assert.equal(zeros.quantile(0.5), 0);
  assert.equal(zeros.quantile(1), 3);
  assert.ok(Number.isNaN(new QuantileSketch().quantile(0.5)));
});

test("the summary's rows carry those percentiles for each method's answered requests", () => {
  const summary = new Summary();
  const base: MessageRecord = {
    dir: 's2c', kind: 'response', method: 'textDocument/hover', id: 1, bytes: 10, headerBytes: 20, offset: 0,
    firstByteNs: 0n, lastByteNs: 0n, forwardedNs: 0n, clock: 'js', isError: false, latencyMs: null,
    request: null, cancelled: false, cancelsId: null, invalidReason: null, unmatched: false, body: null, kernel: null,
  };
  const latencies = Array.from({ length: 1000 }, (_, i) => 0.5 + i * 0.037);
  for (const latencyMs of latencies) summary.add({ ...base, latencyMs });
  summary.add({ ...base, method: 'initialize', latencyMs: 131.5 });
  const rows = summary.rows();
  const hover = rows.find((r) => r.method === 'textDocument/hover');
  assert.ok(hover !== undefined);
  assert.equal(hover.dir, 'c2s');
  assert.equal(hover.answered, 1000);
  for (const [got, q] of [[hover.p50Ms, 0.5], [hover.p90Ms, 0.9], [hover.p99Ms, 0.99]] as const) {
    const exact = lowerRankQuantile(latencies, q);
    assert.ok(got !== null && Math.abs(got - exact) <= RELATIVE_ACCURACY * exact + 0.0005, `p${q * 100}: ${got} vs ${exact}`);
  }
  assert.equal(hover.maxMs, Math.round(latencies[999] * 1000) / 1000);
  const init = rows.find((r) => r.method === 'initialize');
  assert.deepEqual([init?.p50Ms, init?.p99Ms, init?.maxMs], [131.5, 131.5, 131.5]);
});
