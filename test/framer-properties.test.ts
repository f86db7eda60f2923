// Properties of the framer over generated streams (fast-check): valid frames agree with
// vscode-jsonrpc's own reader; any byte stream gives the same frames and warnings in any
// chunking, without a throw and without keeping a chunk; a damaged frame costs one warning
// and the framer resynchronises where docs/architecture.md says. Seeds are printed; LSPTAP_SEED replays.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { concatFrames, cutsFor, damagedStream, noisyStream, split, validFrames } from './helpers/lsp-arbitraries';
import { framerRead, identityOf, propertyParams, referenceRead } from './helpers/framing-oracle';
import { checkChunkingInvariance, checkDamage, checkFramesInStream, checkNoRetention } from './helpers/framing-checks';

const streamWithCuts = <T>(arb: fc.Arbitrary<T>, bytes: (x: T) => Buffer): fc.Arbitrary<[T, number[], number[]]> =>
  arb.chain((x) => fc.tuple(fc.constant(x), cutsFor(bytes(x).length), cutsFor(bytes(x).length)));

test('reports exactly the frames vscode-jsonrpc reads, with the same ids and methods, in any chunking', async (t) => {
  await fc.assert(fc.asyncProperty(streamWithCuts(validFrames({ maxFrames: 6, hugeChance: 0.08 }), concatFrames), async ([frames, cuts]) => {
    const stream = concatFrames(frames);
    const chunks = split(stream, cuts);
    const reference = await referenceRead(chunks);
    const got = framerRead(chunks.map((c) => Buffer.from(c)));
    assert.deepEqual(got.warnings, []);
    assert.deepEqual(got.frames.map(identityOf), reference);
    let offset = 0;
    const offsets = frames.map((f) => { const o = offset; offset += f.header.length + f.body.length; return o; });
    assert.deepEqual(got.frames.map((f) => f.offset), offsets);
    assert.deepEqual(got.frames.map((f) => f.bodyBytes), frames.map((f) => f.body.length));
  }), propertyParams(t, 300));
});

test('gives the same frames and warnings for any chunking of any byte stream, and never throws', (t) => {
  fc.assert(fc.property(streamWithCuts(noisyStream, (b) => b), ([stream, cutsA, cutsB]) => {
    checkChunkingInvariance(stream, cutsA, cutsB);
  }), propertyParams(t, 1500));
});

test('keeps no chunk after push(): overwriting each chunk once pushed changes nothing', (t) => {
  fc.assert(fc.property(streamWithCuts(noisyStream, (b) => b), ([stream, cuts]) => {
    checkNoRetention(stream, cuts);
  }), propertyParams(t, 800));
});

test('reports only frames that are in the stream: a Content-Length header of that length, in order', (t) => {
  fc.assert(fc.property(streamWithCuts(noisyStream, (b) => b), ([stream, cuts]) => {
    checkFramesInStream(stream, cuts);
  }), propertyParams(t, 1000));
});

test('warns once at a damaged frame and recovers every other frame at its own offset', (t) => {
  fc.assert(fc.property(damagedStream.chain((d) => fc.tuple(fc.constant(d), cutsFor(d.stream.length))), ([d, cuts]) => {
    checkDamage(d, cuts);
  }), propertyParams(t, 1500));
});
