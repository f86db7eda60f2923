// The framer observes chunks: for any chunking it must report the same frames, and for bad
// input exactly one warning with direction, offset and reason, then resynchronise.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Framer, SMALL_BODY_MAX } from '../src/analysis/framer';
import type { Frame, FrameWarning } from '../src/model/frame';
import { frame, rng } from './helpers/index';

function run(stream: Buffer, cuts: number[] = [], retain = 0): { frames: Frame[]; warnings: FrameWarning[] } {
  const frames: Frame[] = [];
  const warnings: FrameWarning[] = [];
  const f = new Framer({ dir: 'c2s', retainBodyMax: retain, onFrame: (x) => frames.push(x), onWarning: (w) => warnings.push(w) });
  let prev = 0;
  for (const c of [...cuts, stream.length]) {
    f.push(stream.subarray(prev, c), 0n, 0n);
    prev = c;
  }
  f.end();
  return { frames, warnings };
}

const REQ = frame('{"jsonrpc":"2.0","id":1,"method":"textDocument/hover","params":{"position":{"line":1}}}');
const NOTE = frame('{"jsonrpc":"2.0","method":"initialized","params":{}}');
const RESP = frame('{"jsonrpc":"2.0","result":{"contents":"x"},"id":"abc"}');
const STREAM = Buffer.concat([REQ, NOTE, RESP]);

const summary = (fs: Frame[]): string[] => fs.map((f) => `${f.offset}:${f.identity.kind}:${f.identity.method}:${String(f.identity.id)}`);

test('frames requests, notifications and responses with offsets of their headers', () => {
  const { frames, warnings } = run(STREAM);
  assert.deepEqual(warnings, []);
  assert.deepEqual(summary(frames), [
    '0:request:textDocument/hover:1',
    `${REQ.length}:notification:initialized:null`,
    `${REQ.length + NOTE.length}:response:null:abc`,
  ]);
  assert.equal(frames[0].headerBytes, REQ.indexOf('{'));
  assert.equal(frames[0].bodyBytes, REQ.length - REQ.indexOf('{'));
});

test('reports the same frames when the stream is split at every single boundary', () => {
  const whole = summary(run(STREAM).frames);
  for (let i = 1; i < STREAM.length; i++) {
    const { frames, warnings } = run(STREAM, [i]);
    assert.deepEqual(warnings, [], `split at ${i}`);
    assert.deepEqual(summary(frames), whole, `split at ${i}`);
  }
});

test('reports the same frames for a header split inside \\r\\n\\r\\n and for one-byte chunks', () => {
  const at = REQ.indexOf('\r\n\r\n');
  for (const cut of [at + 1, at + 2, at + 3]) assert.deepEqual(summary(run(REQ, [cut]).frames), ['0:request:textDocument/hover:1']);
  const ones = Array.from({ length: STREAM.length - 1 }, (_, i) => i + 1);
  assert.deepEqual(summary(run(STREAM, ones).frames), summary(run(STREAM).frames));
});

test('reports the same frames for random chunkings (seeded)', () => {
  const seed = Number(process.env.LSPTAP_SEED ?? Date.now() % 1e9);
  const rand = rng(seed);
  const big = Buffer.concat(Array.from({ length: 20 }, () => STREAM));
  const whole = summary(run(big).frames);
  for (let round = 0; round < 50; round++) {
    const cuts: number[] = [];
    let p = 0;
    while ((p += 1 + Math.floor(rand() * 64)) < big.length) cuts.push(p);
    assert.deepEqual(summary(run(big, cuts).frames), whole, `seed ${seed} round ${round}`);
  }
});

test('accepts header keys in any case and other headers such as Content-Type', () => {
  const body = '{"jsonrpc":"2.0","method":"a"}';
  const s = Buffer.from(`content-type: application/vscode-jsonrpc; charset=utf-8\r\nCONTENT-LENGTH:   ${body.length}  \r\n\r\n${body}`);
  const { frames, warnings } = run(s);
  assert.deepEqual(warnings, []);
  assert.deepEqual(summary(frames), ['0:notification:a:null']);
});

test('finds ids written after a large params or result, as Go jsonrpc2 writes them', () => {
  const text = 'package main\n\\"quoted\\" \u00e9\u4e2d\ud83d\ude00 '.repeat(5000);
  const req = frame(JSON.stringify({ jsonrpc: '2.0', method: 'textDocument/didOpen', params: { text, nested: [[1, 2], { a: '}' }] }, id: 7 }));
  const resp = frame(`{"jsonrpc":"2.0","result":${JSON.stringify({ items: Array.from({ length: 3000 }, (_, i) => ({ label: `l${i}`, n: 1.5e3 })) })},"id":"go-42"}`);
  assert.ok(req.length > SMALL_BODY_MAX && resp.length > SMALL_BODY_MAX);
  const { frames, warnings } = run(Buffer.concat([req, resp]), [100, 5000, 70000]);
  assert.deepEqual(warnings, []);
  assert.deepEqual(summary(frames), ['0:request:textDocument/didOpen:7', `${req.length}:response:null:go-42`]);
});

test('marks responses carrying error', () => {
  const { frames } = run(Buffer.concat([frame('{"jsonrpc":"2.0","id":3,"error":{"code":-32601,"message":"nope"}}'), frame(`{"jsonrpc":"2.0","id":4,"error":{"code":1,"message":"${'e'.repeat(SMALL_BODY_MAX)}"}}`)]));
  assert.deepEqual(frames.map((f) => [f.identity.kind, f.identity.isError]), [['response', true], ['response', true]]);
});

test('extracts the id a $/cancelRequest cancels', () => {
  const { frames } = run(frame('{"jsonrpc":"2.0","method":"$/cancelRequest","params":{"id":"r9"}}'));
  assert.equal(frames[0].identity.cancelId, 'r9');
});

test('warns on a missing Content-Length and resynchronises on the next header', () => {
  const bad = Buffer.from('Content-Type: x\r\n\r\n{"a":1}');
  const { frames, warnings } = run(Buffer.concat([bad, NOTE]));
  assert.deepEqual(warnings, [{ dir: 'c2s', offset: 0, reason: 'header has no Content-Length', seen: 'Content-Type: x' }]);
  assert.deepEqual(summary(frames), [`${bad.length}:notification:initialized:null`]);
});

test('warns on a non-numeric Content-Length and resynchronises', () => {
  const bad = Buffer.from('Content-Length: 12a\r\n\r\n{"a":1}');
  const { frames, warnings } = run(Buffer.concat([REQ, bad, NOTE]));
  assert.deepEqual(warnings, [{ dir: 'c2s', offset: REQ.length, reason: 'Content-Length is not a number', seen: '12a' }]);
  assert.deepEqual(summary(frames).slice(1), [`${REQ.length + bad.length}:notification:initialized:null`]);
});

test('warns on a header line without a colon', () => {
  const bad = Buffer.from('Content-Length 5\r\n\r\nhello');
  const { frames, warnings } = run(Buffer.concat([bad, NOTE]));
  assert.deepEqual(warnings, [{ dir: 'c2s', offset: 0, reason: 'header line without a colon', seen: 'Content-Length 5' }]);
  assert.equal(frames.length, 1);
});

test('logs a body that is not JSON as invalid and resynchronises after it', () => {
  const bad = frame('this is not json');
  const { frames, warnings } = run(Buffer.concat([bad, NOTE]));
  assert.equal(warnings.length, 1);
  assert.equal(warnings[0].offset, 0);
  assert.match(warnings[0].reason, /^body is not JSON/);
  assert.deepEqual(summary(frames), ['0:invalid:null:null', `${bad.length}:notification:initialized:null`]);
});

test('logs JSON that is not JSON-RPC as invalid and keeps framing', () => {
  const { frames, warnings } = run(Buffer.concat([frame('{"hello":"world"}'), frame('[1,2]'), NOTE]));
  assert.deepEqual(frames.map((f) => f.identity.kind), ['invalid', 'invalid', 'notification']);
  assert.equal(warnings.length, 2);
  assert.match(warnings[0].reason, /not a JSON-RPC message/);
});

test('logs a body with invalid UTF-8 as invalid, small or large', () => {
  const bad = Buffer.concat([Buffer.from('{"jsonrpc":"2.0","method":"x","params":"'), Buffer.from([0xff, 0xfe]), Buffer.from('"}')]);
  const bigBad = Buffer.concat([Buffer.from('{"jsonrpc":"2.0","method":"x","params":"'), Buffer.alloc(SMALL_BODY_MAX, 0x61), Buffer.from([0xc3]), Buffer.from('"}')]);
  const { frames, warnings } = run(Buffer.concat([frame(bad), frame(bigBad), NOTE]));
  assert.deepEqual(frames.map((f) => f.identity.invalidReason), ['body is not valid UTF-8', 'body is not valid UTF-8', null]);
  assert.equal(warnings.length, 2);
});

test('recovers the next message when a too-long Content-Length swallowed its header', () => {
  const body = '{"jsonrpc":"2.0","method":"a"}';
  const bad = Buffer.from(`Content-Length: ${body.length + 10}\r\n\r\n${body}`);
  const { frames, warnings } = run(Buffer.concat([bad, REQ, NOTE]));
  assert.equal(warnings.length, 1);
  assert.match(warnings[0].reason, /^body is not JSON/);
  assert.deepEqual(summary(frames).slice(1), [`${bad.length}:request:textDocument/hover:1`, `${bad.length + REQ.length}:notification:initialized:null`]);
});

test('recovers after a too-short Content-Length with a single warning', () => {
  const body = '{"jsonrpc":"2.0","method":"a"}';
  const bad = Buffer.from(`Content-Length: ${body.length - 5}\r\n\r\n${body}`);
  const { frames, warnings } = run(Buffer.concat([bad, REQ]));
  assert.equal(warnings.length, 1);
  assert.deepEqual(summary(frames).slice(1), [`${bad.length}:request:textDocument/hover:1`]);
});

test('reports a declared length that runs past the end of the stream', () => {
  const s = Buffer.from('Content-Length: 100\r\n\r\n{"jsonrpc":');
  const { frames, warnings } = run(s);
  assert.equal(frames.length, 0);
  assert.deepEqual(warnings, [{ dir: 'c2s', offset: 0, reason: 'stream ended 11 bytes into a body declared as 100 bytes (Content-Length runs past the end of the stream)', seen: null }]);
});

test('warns on a header that never ends and resynchronises after it', () => {
  const junk = Buffer.alloc(20000, 0x41);
  const { frames, warnings } = run(Buffer.concat([junk, NOTE]));
  assert.equal(warnings.length, 1);
  assert.match(warnings[0].reason, /header exceeds/);
  assert.deepEqual(summary(frames), [`${junk.length}:notification:initialized:null`]);
});

test('keeps bodies only when asked, up to the cap', () => {
  assert.equal(run(REQ).frames[0].body, null);
  const kept = run(REQ, [30], 1 << 20).frames[0].body;
  assert.equal(kept?.toString(), REQ.subarray(REQ.indexOf('{')).toString());
  assert.equal(run(REQ, [], 10).frames[0].body, null);
});

/**
 * Feed stream as the relay sends it once the framer offers a skip: chunks of `piece` bytes,
 * each wholly before the offered offset going as a length only (skip()).
 */
function runSkipping(stream: Buffer, piece: number, retain = 0): { frames: Frame[]; warnings: FrameWarning[]; offers: [number, boolean][]; skipped: number } {
  const frames: Frame[] = [];
  const warnings: FrameWarning[] = [];
  const offers: [number, boolean][] = [];
  let until = 0;
  const f = new Framer({
    dir: 's2c', retainBodyMax: retain, onFrame: (x) => frames.push(x), onWarning: (w) => warnings.push(w),
    onSkimmable: (at, on) => { offers.push([at, on]); until = on ? at : 0; },
  });
  let skipped = 0;
  for (let at = 0; at < stream.length; at += piece) {
    const end = Math.min(stream.length, at + piece);
    if (until !== 0 && end <= until) { f.skip(end - at, at); skipped += end - at; } else f.push(stream.subarray(at, end), 0n, 0n);
  }
  f.end();
  return { frames, warnings, offers, skipped };
}

test('a skimmed body whose middle comes as lengths only frames as the whole body does, its UTF-8 picked up after the gap', () => {
  // Two-, three- and four-byte characters, so the first byte after the gap falls inside one.
  const text = 'é中😀 x'.repeat(200_000);
  const body = JSON.stringify({ jsonrpc: '2.0', result: { text }, id: 'go-7' });
  const stream = Buffer.concat([frame(body), REQ]);
  for (const piece of [65_536, 65_537, 4093]) {
    const whole = run(stream, Array.from({ length: Math.floor(stream.length / piece) }, (_, i) => (i + 1) * piece));
    const got = runSkipping(stream, piece);
    assert.deepEqual(got.warnings, []);
    assert.deepEqual(summary(got.frames), summary(whole.frames));
    assert.deepEqual(summary(got.frames), ['0:response:null:go-7', `${frame(body).length}:request:textDocument/hover:1`]);
    assert.ok(got.skipped > frame(body).length - 2 * piece - 8192, `piece ${piece}: most of the body skipped (${got.skipped})`);
    const end = frame(body).length;
    assert.deepEqual(got.offers, [[end - 4096, true], [end - 4096, false]], 'offered up to the tail, taken back at the body\'s end');
  }
});

test('offers no skip for a body kept for --bodies, and refuses uncopied bytes it did not offer', () => {
  const body = JSON.stringify({ jsonrpc: '2.0', method: 'textDocument/didOpen', params: { text: 'a'.repeat(2 << 20) } });
  const kept = runSkipping(frame(body), 65_536, 4 << 20);
  assert.deepEqual(kept.offers, []);
  assert.equal(kept.frames[0].body?.length, Buffer.byteLength(body));
  const f = new Framer({ dir: 'c2s', retainBodyMax: 0, onFrame: () => undefined, onWarning: () => undefined, onSkimmable: () => undefined });
  assert.throws(() => f.skip(10, 0), /c2s: 10 uncopied bytes at offset 0, but the framer is at 0 and offered skipping up to 0/);
});
