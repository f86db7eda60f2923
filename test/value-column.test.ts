// The report's exact value store: every value back in order, whatever mix of zeros, whole
// µs, float32 and float64 values arrives, in a fraction of a number array's memory.

import test from 'node:test';
import assert from 'node:assert/strict';
import { ValueColumn } from '../src/sinks/value-column';
import { rng } from './helpers/index';
import { quantile } from '../src/model/quantile';

test('a value column gives back every value sorted, through each widening (uint16, float32, float64) and across blocks', () => {
  const seed = 24;
  const random = rng(seed);
  const values: number[] = [];
  const col = new ValueColumn();
  for (let i = 0; i < 200_000; i++) {
    const r = random();
    const v = i < 70_000 ? (r < 0.4 ? 0 : Math.floor(r * 60_000)) : i < 140_000 ? Math.floor(r * 5e6) : r < 0.01 ? -r : r * 1000;
    values.push(v);
    col.push(v);
  }
  assert.equal(col.length, values.length);
  assert.deepEqual(Array.from(col.toSorted()), Array.from(Float64Array.from(values).sort()), `seed ${seed}`);
});

test('a million kernel parts in whole µs under 65 ms take about 2 bytes each, not an array\'s 8 or more', () => {
  const col = new ValueColumn();
  const before = process.memoryUsage().arrayBuffers;
  for (let i = 0; i < 1_000_000; i++) col.push(1 + (i * 7919) % 60_000);
  const bytes = process.memoryUsage().arrayBuffers - before;
  assert.ok(bytes < 2.5e6, `${bytes} bytes for 1,000,000 values`);
  const s = col.toSorted();
  assert.equal(s[0], 1);
  assert.equal(s.length, 1_000_000);
});

test('a value column\'s quantiles, counted or selected without a full sort, equal those of its sorted values at every width', () => {
  const seed = 2424;
  const random = rng(seed);
  const qs = [0, 0.01, 0.5, 0.9, 0.99, 0.999, 1];
  // uint16 with zeros and ties; float32 whole µs; float64 with negatives among zeros; tiny columns.
  const kinds: Array<[string, number, () => number]> = [
    ['uint16', 50_000, () => (random() < 0.3 ? 0 : 1 + Math.floor(random() * 200))],
    ['float32', 30_000, () => (random() < 0.5 ? 0 : Math.floor(random() * 5e6))],
    ['float64', 30_000, () => (random() < 0.2 ? 0 : random() < 0.1 ? -random() * 10 : random() * 1000)],
    ['one value', 1, () => 7],
    ['two values', 2, () => random() * 3],
    ['zeros only', 5, () => 0],
  ];
  for (const [name, n, next] of kinds) {
    const col = new ValueColumn();
    for (let i = 0; i < n; i++) col.push(next());
    const sorted = col.toSorted();
    assert.deepEqual(col.quantiles(qs), qs.map((q) => quantile(sorted, q)), `${name}, seed ${seed}`);
  }
  assert.ok(new ValueColumn().quantiles([0.5]).every(Number.isNaN));
});
