// Properties of the streaming identity scanner (bodies over 16 KiB): for every generated
// JSON-RPC body, in any chunking, it finds what JSON.parse finds: kind, id, method, isError.
// Bodies hold ids after huge params/result, escaped quotes and keys, unicode, nested arrays
// and numbers in exponent form. Seeds are printed; LSPTAP_SEED replays.

import { test } from 'node:test';
import fc from 'fast-check';
import { cutsFor, rpcBodyText, valueText } from './helpers/lsp-arbitraries';
import { propertyParams } from './helpers/framing-oracle';
import { checkScannerOnDamage, checkScannerOnObject, checkScannerOnRpcBody } from './helpers/framing-checks';

const bodyWithCuts = (arb: fc.Arbitrary<string>): fc.Arbitrary<[Buffer, number[]]> =>
  arb.map((t) => Buffer.from(t, 'utf8')).chain((b) => fc.tuple(fc.constant(b), cutsFor(b.length)));

test('finds the same kind, id, method and isError as JSON.parse in every JSON-RPC body, in any chunking', (t) => {
  fc.assert(fc.property(bodyWithCuts(rpcBodyText({ hugeChance: 0.3 })), ([body, cuts]) => {
    checkScannerOnRpcBody(body, cuts);
  }), propertyParams(t, 1500));
});

test('agrees with the JSON.parse path on any JSON object, and never calls it "not JSON"', (t) => {
  fc.assert(fc.property(bodyWithCuts(valueText.filter((v) => v.startsWith('{'))), ([body, cuts]) => {
    checkScannerOnObject(body, cuts);
  }), propertyParams(t, 1500));
});

test('never throws, calls a cut body invalid and never misreads a changed byte as another kind', (t) => {
  const damaged = rpcBodyText({ hugeChance: 0.1 }).map((s) => Buffer.from(s, 'utf8'))
    .chain((b) => fc.tuple(fc.constant(b), fc.nat({ max: b.length - 1 }), fc.integer({ min: 0, max: 255 }), cutsFor(b.length)));
  fc.assert(fc.property(damaged, ([body, at, byte, cuts]) => {
    checkScannerOnDamage(body, at, byte, cuts);
  }), propertyParams(t, 1500));
});
