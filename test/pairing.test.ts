// Pairing keys: ids are the Map keys themselves, so the number 1 and the string "1" must
// stay two requests, and each direction keeps its own table.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import v8 from 'node:v8';
import { runInNewContext } from 'node:vm';
import { MAX_PENDING, Pairing } from '../src/analysis/pairing';
import type { Direction, Frame, MessageId } from '../src/model/frame';

function frame(dir: Direction, kind: 'request' | 'response', id: MessageId, method: string | null, at: bigint): Frame {
  return {
    dir, offset: 0, headerBytes: 20, bodyBytes: 40, firstByteNs: at, lastByteNs: at, forwardedNs: at, body: null,
    identity: { kind, method, id, isError: false, cancelId: null, invalidReason: null },
  };
}

test('pairs the number 1 and the string "1" with their own responses', () => {
  const anomalies: string[] = [];
  const p = new Pairing({ onAnomaly: (_d, _o, reason) => anomalies.push(reason), onFirstEviction: () => {} });
  p.toRecord(frame('c2s', 'request', 1, 'textDocument/hover', 1_000_000n));
  p.toRecord(frame('c2s', 'request', '1', 'textDocument/definition', 2_000_000n));
  assert.equal(p.pendingCount('c2s'), 2);
  const byString = p.toRecord(frame('s2c', 'response', '1', null, 5_000_000n));
  const byNumber = p.toRecord(frame('s2c', 'response', 1, null, 9_000_000n));
  assert.equal(byString.method, 'textDocument/definition');
  assert.equal(byString.latencyMs, 3);
  assert.equal(byNumber.method, 'textDocument/hover');
  assert.equal(byNumber.latencyMs, 8);
  assert.equal(p.pendingCount('c2s'), 0);
  assert.deepEqual(anomalies, []);
});

test('keeps the ids of the two directions apart', () => {
  const p = new Pairing({ onAnomaly: () => {}, onFirstEviction: () => {} });
  p.toRecord(frame('c2s', 'request', 1, 'textDocument/hover', 0n));
  p.toRecord(frame('s2c', 'request', 1, 'workspace/configuration', 0n));
  assert.equal(p.toRecord(frame('c2s', 'response', 1, null, 1_000_000n)).method, 'workspace/configuration');
  assert.equal(p.toRecord(frame('s2c', 'response', 1, null, 1_000_000n)).method, 'textDocument/hover');
});

test('pairs long string ids by their whole value, and keeps a bounded stand-in for each waiting request', () => {
  const anomalies: string[] = [];
  const p = new Pairing({ onAnomaly: (_d, _o, reason) => anomalies.push(reason), onFirstEviction: () => {} });
  const common = 'k'.repeat(5000);
  const a = `${common}A`;
  const b = `${common}B`;
  p.toRecord(frame('c2s', 'request', a, 'textDocument/hover', 1_000_000n));
  p.toRecord(frame('c2s', 'request', b, 'textDocument/definition', 2_000_000n));
  assert.equal(p.pendingCount('c2s'), 2, 'ids that share a long prefix stay apart');
  assert.equal(p.toRecord(frame('s2c', 'response', b, null, 5_000_000n)).method, 'textDocument/definition');
  assert.equal(p.toRecord(frame('s2c', 'response', `${common}C`, null, 6_000_000n)).unmatched, true);
  const [left] = p.unanswered();
  assert.equal(left.method, 'textDocument/hover');
  assert.equal(left.id, `${'k'.repeat(128)}… (5001 chars)`);
  assert.equal(p.toRecord(frame('s2c', 'response', a, null, 9_000_000n)).method, 'textDocument/hover');
  assert.deepEqual(anomalies, ['response to an id with no pending request']);
});

test('30,000 requests with 16 KB string ids hold a bounded amount of memory while they wait', () => {
  v8.setFlagsFromString('--expose-gc');
  const gc = runInNewContext('gc') as () => void;
  const p = new Pairing({ onAnomaly: () => {}, onFirstEviction: () => {} });
  const pad = 'i'.repeat(16_000);
  gc();
  const before = process.memoryUsage().heapUsed;
  for (let i = 0; i < 30_000; i++) {
    // As identity.ts gets it: a fresh string out of JSON.parse of the body.
    const id = (JSON.parse(`{"id":"${pad}${i}"}`) as { id: string }).id;
    p.toRecord(frame('c2s', 'request', id, 'textDocument/hover', BigInt(i)));
  }
  gc();
  const heldBytes = process.memoryUsage().heapUsed - before;
  console.log(`heap held by ${p.pendingCount('c2s')} waiting requests with 16 KB ids: ${(heldBytes / 2 ** 20).toFixed(1)} MiB (${Math.round(heldBytes / p.pendingCount('c2s'))} bytes each)`);
  assert.equal(p.pendingCount('c2s'), 30_000);
  assert.ok(heldBytes < 30_000 * 2048, `${heldBytes} bytes for 30,000 waiting requests`);
});

test('1,000,000 requests wait unanswered in under 64 MB, none evicted', () => {
  v8.setFlagsFromString('--expose-gc');
  const gc = runInNewContext('gc') as () => void;
  const methods = ['textDocument/hover', 'textDocument/definition', 'textDocument/completion', 'textDocument/codeAction'];
  let evictions = 0;
  const p = new Pairing({ onAnomaly: () => {}, onFirstEviction: () => { evictions++; } });
  gc();
  const before = process.memoryUsage();
  for (let i = 1; i <= 1_000_000; i++) {
    // As identity.ts gets it: a fresh method string out of each body.
    const method = (JSON.parse(`{"method":"${methods[i % methods.length]}"}`) as { method: string }).method;
    p.toRecord(frame('c2s', 'request', i, method, 1_000_000_000_000n + BigInt(i) * 1000n));
  }
  gc();
  const after = process.memoryUsage();
  const held = after.heapUsed - before.heapUsed + after.arrayBuffers - before.arrayBuffers;
  console.log(`1,000,000 waiting requests hold ${(held / 2 ** 20).toFixed(1)} MiB (${Math.round(held / 1e6)} B each)`);
  assert.equal(p.pendingCount('c2s'), 1_000_000);
  assert.equal(MAX_PENDING, 1_000_000);
  assert.equal(p.evicted, 0);
  assert.equal(evictions, 0);
  assert.ok(held <= 64 * 2 ** 20, `${held} bytes`);
  // Every one still pairs, with its own method and latency.
  const r = p.toRecord(frame('s2c', 'response', 777_777, null, 1_000_000_000_000n + 777_777_000n + 2_500_000n));
  assert.equal(r.method, methods[777_777 % methods.length]);
  assert.equal(r.latencyMs, 2.5);
  assert.equal(p.unansweredCount, 999_999);
});

test('past the bound, the oldest are evicted with one event, and their late answers are counted, not called unanswered', () => {
  const anomalies: string[] = [];
  const evictions: [Direction, number][] = [];
  const p = new Pairing({ onAnomaly: (_d, _o, reason) => anomalies.push(reason), onFirstEviction: (dir, max) => evictions.push([dir, max]) }, 100);
  for (let i = 0; i < 250; i++) p.toRecord(frame('c2s', 'request', i, 'textDocument/hover', BigInt(i)));
  assert.deepEqual(evictions, [['c2s', 100]], 'said once');
  assert.equal(p.evicted, 150);
  assert.equal(p.unanswered().length, 100, 'the first evicted are listed');
  assert.equal(p.unanswered()[0].id, 0);
  // Every request is answered, evicted or not.
  for (let i = 0; i < 250; i++) p.toRecord(frame('s2c', 'response', i, null, 1000n + BigInt(i)));
  assert.deepEqual(anomalies, [], 'no warning per late answer');
  assert.equal(p.evictedAnswered, 150);
  assert.equal(p.unansweredCount, 0);
  assert.deepEqual(p.unanswered(), []);
});
