// The shared ring between the relay thread and the analysis thread: every record comes out
// once, in order, with its bytes and timestamps, across wraps, within one thread and across
// two real threads.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import path from 'node:path';
import { Worker } from 'node:worker_threads';
import fc from 'fast-check';
import { ChunkRingReader, ChunkRingWriter, RecordType, createRingBuffers } from '../src/bridge/chunk-ring';
import { RingBacklog } from '../src/proxy/worker/ring-backlog';

test('records come out in order with their bytes, session, direction and timestamps, across wraps', () => {
  fc.assert(fc.property(
    fc.array(fc.record({ len: fc.integer({ min: 0, max: 1024 }), readEvery: fc.integer({ min: 1, max: 5 }) }), { minLength: 1, maxLength: 200 }),
    (plan) => {
      const bufs = createRingBuffers(4096);
      const w = new ChunkRingWriter(bufs);
      const r = new ChunkRingReader(bufs);
      const sent: { payload: Buffer; session: number; dir: number; readNs: bigint; forwardedNs: bigint }[] = [];
      const got: typeof sent = [];
      const take = (): void => { r.read((rec) => got.push({ payload: Buffer.from(rec.payload), session: rec.session, dir: rec.dir, readNs: rec.readNs, forwardedNs: rec.forwardedNs }), Infinity); };
      plan.forEach((p, i) => {
        const rec = { payload: crypto.randomBytes(p.len), session: i % 7, dir: i % 2, readNs: BigInt(i) * 1_000_000_007n + 2n ** 60n, forwardedNs: BigInt(i) };
        while (!w.tryWrite(RecordType.Chunk, rec.dir, rec.session, rec.payload, rec.readNs, rec.forwardedNs)) {
          const before = got.length;
          take();
          assert.ok(got.length > before, 'a full ring has something to read');
        }
        sent.push(rec);
        if (i % p.readEvery === 0) take();
      });
      take();
      assert.equal(got.length, sent.length);
      for (let i = 0; i < sent.length; i++) assert.deepEqual(got[i], sent[i], `record ${i}`);
      assert.ok(r.empty);
    },
  ), { numRuns: 200 });
});

test('a record that does not fit is refused, and fits once the reader has made room', () => {
  const bufs = createRingBuffers(4096);
  const w = new ChunkRingWriter(bufs);
  const r = new ChunkRingReader(bufs);
  const big = Buffer.alloc(w.maxPayload, 1);
  let n = 0;
  while (w.tryWrite(RecordType.Chunk, 0, 1, big, 0n, 0n)) n++;
  assert.equal(n, 3, 'three 1 KiB records (with headers) fill a 4 KiB ring');
  assert.equal(r.read(() => undefined, 1), 1024 + 32, 'one record read frees its space');
  assert.ok(w.tryWrite(RecordType.Chunk, 0, 1, big, 0n, 0n));
});

test('a consumer on another thread gets every byte in order while the producer writes as fast as it can', async () => {
  const bufs = createRingBuffers(1 << 16);
  const ringModule = path.join(__dirname, '..', 'src', 'bridge', 'chunk-ring.js');
  const worker = new Worker(`
    const { parentPort, workerData } = require('node:worker_threads');
    const crypto = require('node:crypto');
    const { ChunkRingReader } = require(workerData.ringModule);
    const r = new ChunkRingReader(workerData.bufs);
    const hash = crypto.createHash('sha256');
    let records = 0, stampsOk = true;
    const loop = () => {
      r.read((rec) => { hash.update(rec.payload); if (rec.readNs !== BigInt(records) || rec.forwardedNs !== BigInt(records) * 3n) stampsOk = false; records++; }, 1 << 20);
      if (records === workerData.total) { parentPort.postMessage({ digest: hash.digest('hex'), stampsOk }); return; }
      setImmediate(loop);
    };
    loop();
  `, { eval: true, workerData: { bufs, ringModule, total: 20000 } });
  const w = new ChunkRingWriter(bufs);
  const hash = crypto.createHash('sha256');
  for (let i = 0; i < 20000; i++) {
    const payload = crypto.randomBytes((i * 7919) % 3000);
    hash.update(payload);
    while (!w.tryWrite(RecordType.Chunk, 0, 1, payload, BigInt(i), BigInt(i) * 3n)) {
      Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 1);
    }
  }
  const result = await new Promise<{ digest: string; stampsOk: boolean }>((resolve, reject) => { worker.once('message', resolve); worker.once('error', reject); });
  await worker.terminate();
  assert.equal(result.digest, hash.digest('hex'), 'the consumer hashed the same bytes in the same order');
  assert.ok(result.stampsOk, 'every record kept its own timestamps');
});

test('a chunk wholly before the offset a session offered goes as a GAP record with its length and offset; every other chunk is copied', () => {
  const bufs = createRingBuffers(1 << 16);
  const r = new ChunkRingReader(bufs);
  const backlog = new RingBacklog(new ChunkRingWriter(bufs), () => undefined);
  const got: string[] = [];
  const take = (): void => {
    r.read((rec) => got.push(`${rec.type === RecordType.Gap ? `gap ${rec.gapBytes} at ${rec.payload.readDoubleLE(0)}` : `chunk ${rec.payload.length}`} s${rec.session} d${rec.dir}`), Infinity);
  };
  const chunk = Buffer.alloc(100, 0x61);
  backlog.pushChunk(5, 1, chunk, 1n, 2n, 1000);
  r.offerSkip(1, 5, 2000);
  backlog.pushChunk(5, 1, chunk, 1n, 2n, 1100);
  backlog.pushChunk(5, 1, chunk, 1n, 2n, 1950); // runs past the offer
  backlog.pushChunk(6, 1, chunk, 1n, 2n, 1100); // another session
  backlog.pushChunk(5, 0, chunk, 1n, 2n, 1100); // the other direction
  r.offerSkip(1, 6, 3000);
  r.withdrawSkip(1, 5, 2000); // replaced by session 6's: not taken back
  backlog.pushChunk(6, 1, chunk, 1n, 2n, 1200);
  r.withdrawSkip(1, 6, 3000);
  backlog.pushChunk(6, 1, chunk, 1n, 2n, 1300);
  take();
  assert.deepEqual(got, ['chunk 100 s5 d1', 'gap 100 at 1100 s5 d1', 'chunk 100 s5 d1', 'chunk 100 s6 d1', 'chunk 100 s5 d0', 'gap 100 at 1200 s6 d1', 'chunk 100 s6 d1']);
});
