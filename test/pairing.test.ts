// Pairing keys: ids are the Map keys themselves, so the number 1 and the string "1" must
// stay two requests, and each direction keeps its own table.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Pairing } from '../src/analysis/pairing';
import type { Direction, Frame, MessageId } from '../src/model/frame';

function frame(dir: Direction, kind: 'request' | 'response', id: MessageId, method: string | null, at: bigint): Frame {
  return {
    dir, offset: 0, headerBytes: 20, bodyBytes: 40, firstByteNs: at, lastByteNs: at, forwardedNs: at, body: null,
    identity: { kind, method, id, isError: false, cancelId: null, invalidReason: null },
  };
}

test('pairs the number 1 and the string "1" with their own responses', () => {
  const anomalies: string[] = [];
  const p = new Pairing({ onAnomaly: (_d, _o, reason) => anomalies.push(reason) });
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
  const p = new Pairing({ onAnomaly: () => {} });
  p.toRecord(frame('c2s', 'request', 1, 'textDocument/hover', 0n));
  p.toRecord(frame('s2c', 'request', 1, 'workspace/configuration', 0n));
  assert.equal(p.toRecord(frame('c2s', 'response', 1, null, 1_000_000n)).method, 'workspace/configuration');
  assert.equal(p.toRecord(frame('s2c', 'response', 1, null, 1_000_000n)).method, 'textDocument/hover');
});
