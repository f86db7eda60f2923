// Bodies of a MiB or more are skimmed past their first top-level nested value and their
// last members read backwards from a kept tail (body-scanner.ts): they must be identified
// as the full scan identifies them, in any chunking, including Go's id after params.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { BodyScanner, SKIM_MIN } from '../src/analysis/body-scanner';

const BIG = 'line of text with \\"quotes\\" and \\\\ escapes\\n'.repeat(Math.ceil((SKIM_MIN + 4096) / 40));

function scan(body: Buffer, skim: boolean, piece: number): ReturnType<BodyScanner['finish']> {
  const s = new BodyScanner();
  s.reset(skim ? body.length : -1);
  for (let i = 0; i < body.length; i += piece) s.feed(body, i, Math.min(body.length, i + piece));
  return s.finish();
}

const bodies: [string, string][] = [
  ['id after params (Go)', `{"jsonrpc":"2.0","method":"textDocument/didChange","params":{"text":"${BIG}"},"id":12}`],
  ['string id after params, then more members', `{"method":"m","params":["${BIG}"] , "id" : "a\\"b\\\\" ,"jsonrpc":"2.0"}`],
  ['a notification', `{"jsonrpc":"2.0","method":"textDocument/didOpen","params":{"textDocument":{"text":"${BIG}"}}}\r\n`],
  ['a response with its id first', `{"jsonrpc":"2.0","id":4,"result":{"items":["${BIG}"]}}`],
  ['an error response with its id last', `{"jsonrpc":"2.0","error":{"code":1,"message":"${BIG}"},"id":4}`],
  ['a bad trailing value', `{"method":"m","params":{"a":"${BIG}"},"id":01}`],
  ['a cut top level', `{"method":"m","params":{"a":"${BIG}"},"id":1`],
];

for (const [name, text] of bodies) {
  test(`identifies ${name} as the full scan does when skimming, in any piece size`, () => {
    const body = Buffer.from(text, 'utf8');
    const full = scan(body, false, 1 << 16);
    for (const piece of [1000, 4096, 65536, 1 << 20]) assert.deepEqual(scan(body, true, piece), full, `pieces of ${piece}`);
  });
}

test('still rejects bytes that are not UTF-8 inside a skimmed value', () => {
  const body = Buffer.concat([Buffer.from(`{"method":"m","params":{"a":"${BIG}`), Buffer.from([0xff]), Buffer.from('"}}')]);
  assert.equal(scan(body, true, 65536).invalidReason, 'body is not valid UTF-8');
});
