// The relay forwards exactly the bytes it reads, whatever the framer makes of them: any
// byte stream, any chunking, a slow reader on the other side (backpressure), and no
// observer error. Seeds are printed; LSPTAP_SEED replays.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { PassThrough } from 'node:stream';
import fc from 'fast-check';
import { DirectionRelay } from '../src/proxy/relay';
import { Framer } from '../src/analysis/framer';
import { cutsFor, noisyStream, split } from './helpers/lsp-arbitraries';
import { propertyParams } from './helpers/framing-oracle';

test('forwards exactly the bytes it reads, in any chunking and under backpressure, with the framer watching', async (t) => {
  await fc.assert(fc.asyncProperty(noisyStream.chain((s) => fc.tuple(fc.constant(s), cutsFor(s.length), fc.integer({ min: 1, max: 64 }))), async ([stream, cuts, hwm]) => {
    const src = new PassThrough();
    const dst = new PassThrough({ highWaterMark: hwm });
    const framer = new Framer({ dir: 's2c', retainBodyMax: 1 << 20, onFrame: () => {}, onWarning: () => {} });
    const observerErrors: unknown[] = [];
    const ended = new Promise<void>((resolve) => {
      new DirectionRelay(src, dst, (c, r, f) => framer.push(c, r, f), {
        onSourceEnd: () => { framer.end(); dst.end(); resolve(); },
        onDestinationError: (e) => observerErrors.push(e),
        onObserverError: (e) => observerErrors.push(e),
      });
    });
    const out: Buffer[] = [];
    const drained = new Promise<void>((resolve) => {
      // A slow reader: one chunk per macrotask, so the relay meets a full writer.
      dst.on('readable', () => { setImmediate(() => { let c: Buffer | null; while ((c = dst.read() as Buffer | null) !== null) out.push(c); }); });
      dst.on('end', () => resolve());
    });
    for (const c of split(stream, cuts)) src.write(Buffer.from(c));
    src.end();
    await ended;
    await drained;
    assert.deepEqual(observerErrors, []);
    assert.ok(Buffer.concat(out).equals(stream));
    assert.equal(framer.bytesSeen, stream.length);
  }), propertyParams(t, 200));
});
