// Properties of the small-body fast path (bodies up to 16 KiB, read whole): wherever it
// answers, it gives the streaming scanner's identity, invalid reason included; on the
// ordinary shapes editors and gopls send it does answer. Seeds are printed; LSPTAP_SEED replays.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { rpcBodyText, valueText } from './helpers/lsp-arbitraries';
import { propertyParams } from './helpers/framing-oracle';
import { checkSmallAgreesWithScanner } from './helpers/framing-checks';
import { identifyCommon, identifySmall } from '../src/analysis/small-body';
import { BodyScanner } from '../src/analysis/body-scanner';

test('gives the scanner\'s identity wherever it answers, on every JSON-RPC body and any JSON object', (t) => {
  fc.assert(fc.property(fc.oneof(rpcBodyText({ hugeChance: 0 }), valueText.filter((v) => v.startsWith('{'))), (text) => {
    checkSmallAgreesWithScanner(Buffer.from(text, 'utf8'));
  }), propertyParams(t, 2000));
});

test('gives the scanner\'s identity wherever it answers on a body with one byte changed or cut short', (t) => {
  const damaged = rpcBodyText({ hugeChance: 0 }).map((s) => Buffer.from(s, 'utf8'))
    .chain((b) => fc.tuple(fc.constant(b), fc.nat({ max: b.length - 1 }), fc.integer({ min: 0, max: 255 })));
  fc.assert(fc.property(damaged, ([body, at, byte]) => {
    const mutated = Buffer.from(body);
    mutated[at] = byte;
    checkSmallAgreesWithScanner(mutated);
    checkSmallAgreesWithScanner(body.subarray(0, at));
  }), propertyParams(t, 2000));
});

test('reads the usual request, response, error and notification shapes itself, in any key order', () => {
  const bodies = [
    '{"jsonrpc":"2.0","id":7,"method":"textDocument/hover","params":{"textDocument":{"uri":"file:///a.go"},"position":{"line":3,"character":12}}}',
    '{"jsonrpc":"2.0","result":{"contents":{"kind":"markdown","value":"say \\"hi\\""}},"id":7}',
    '{"jsonrpc":"2.0","error":{"code":-32601,"message":"no"},"id":"x1"}',
    ' {"method":"initialized","params":{},"jsonrpc":"2.0"}\r\n',
    '{"jsonrpc":"2.0","id":null,"result":null}',
  ];
  const kinds = bodies.map((s) => identifyCommon(Buffer.from(s), 0, Buffer.byteLength(s)));
  assert.deepEqual(kinds.map((k) => k === null ? null : [k.kind, k.method, k.id, k.isError]), [
    ['request', 'textDocument/hover', 7, false],
    ['response', null, 7, false],
    ['response', null, 'x1', true],
    ['notification', 'initialized', null, false],
    ['response', null, null, false],
  ]);
});

test('still finds the id a $/cancelRequest cancels', () => {
  const b = Buffer.from('{"jsonrpc":"2.0","method":"$/cancelRequest","params":{"id":42}}');
  assert.equal(identifySmall(b, 0, b.length, new BodyScanner()).cancelId, 42);
});

test('leaves a body whose only byte above 0x7f is an escaped one to the UTF-8 check', () => {
  const body = Buffer.concat([Buffer.from('{"jsonrpc":"2.0","id":1,"result":"\\'), Buffer.from([0x80]), Buffer.from('"}')]);
  assert.equal(identifyCommon(body, 0, body.length), null);
  checkSmallAgreesWithScanner(body);
});
