// The arithmetic that turns kernel events into fields, on event sequences written out by
// hand: finding the syscall that moved a byte, and when a server's fd count is growth.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { fdGrowth } from '../src/probes/tree-accounting';
import { ByteStream } from '../src/probes/byte-streams';
import { IoOp } from '../src/probes/event-layout';

test('a byte stream finds the syscall that moved each byte and ignores calls that moved none', () => {
  const b = new ByteStream('test');
  const io = (ret: number, enterNs: number, exitNs: number) => ({ enterNs, exitNs, ret, pid: 1, tid: 1, fd: 3, isRead: true, op: IoOp.read });
  b.add(io(10, 100, 110)); // bytes 0-9
  b.add(io(-11, 120, 121)); // EAGAIN
  b.add(io(5, 130, 150)); // bytes 10-14
  b.add(io(7, 0, 170)); // began before tracing: bytes 15-21, duration unknown
  assert.equal(b.at(0)!.exitNs, 110);
  assert.equal(b.at(9)!.exitNs, 110);
  assert.equal(b.at(10)!.enterNs, 130);
  assert.equal(b.at(21)!.exitNs, 170);
  assert.equal(b.at(22), null);
  assert.equal(b.has(21), true);
  assert.equal(b.has(22), false);
  assert.equal(b.syscallNs(5, 12), 10 + 20);
  assert.equal(b.syscallNs(15, 21), 0);
});

test('fd growth needs the count to rise over at least 5 requests without falling, by at least 5', () => {
  assert.deepEqual(fdGrowth([9, 10, 11, 12, 13, 14]), { rises: 5, from: 9, to: 14 });
  assert.deepEqual(fdGrowth([9, 10, 10, 11, 12, 12, 13, 16]), { rises: 5, from: 9, to: 16 });
  assert.equal(fdGrowth([9, 10, 11, 12, 13]), null, 'only 4 rises');
  assert.equal(fdGrowth([9, 10, 11, 12, 13, 14, 9]), null, 'fell back');
  assert.equal(fdGrowth([9, 9, 9, 9, 9, 9, 9]), null, 'flat');
  assert.equal(fdGrowth([]), null);
});
