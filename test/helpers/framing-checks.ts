// The checks behind the framing properties, as plain functions that throw on failure, so
// the property tests, `npm run fuzz` and the replay of saved fuzz findings share them.

import assert from 'node:assert/strict';
import { BodyScanner } from '../../src/analysis/body-scanner';
import { identifyParsed } from '../../src/analysis/identity';
import { identifyCommon } from '../../src/analysis/small-body';
import type { Damage } from './lsp-arbitraries';
import { split } from './lsp-arbitraries';
import { framerRead, identityOf, parsedIdentity, shape } from './framing-oracle';

/** Any byte stream: the same frames and warnings whatever the chunking (and no throw). */
export function checkChunkingInvariance(stream: Buffer, cutsA: number[], cutsB: number[]): void {
  const a = framerRead(split(stream, cutsA));
  const b = framerRead(split(stream, cutsB));
  assert.deepEqual(a.frames.map(shape), b.frames.map(shape));
  assert.deepEqual(a.warnings, b.warnings);
}

/** Overwriting each chunk right after push() changes nothing: the framer keeps no chunk. */
export function checkNoRetention(stream: Buffer, cuts: number[]): void {
  const clean = framerRead(split(stream, cuts));
  const scribbled = framerRead(split(Buffer.from(stream), cuts), { scribble: true });
  assert.deepEqual(scribbled.frames.map(shape), clean.frames.map(shape));
  assert.deepEqual(scribbled.warnings, clean.warnings);
}

/** Every frame reported is a header in the stream declaring that length, in stream order. */
export function checkFramesInStream(stream: Buffer, cuts: number[]): void {
  const before = Buffer.from(stream);
  const { frames, warnings } = framerRead(split(stream, cuts));
  assert.ok(stream.equals(before), 'the framer changed a chunk');
  let last = -1;
  for (const f of frames) {
    assert.ok(f.offset > last, `frame at ${f.offset} after ${last}`);
    last = f.offset;
    assert.ok(f.offset + f.headerBytes + f.bodyBytes <= stream.length);
    const header = stream.toString('latin1', f.offset, f.offset + f.headerBytes);
    assert.ok(header.endsWith('\r\n\r\n'), JSON.stringify(header));
    // The last `Content-Length` line wins, as in vscode-jsonrpc.
    const declared = header.slice(0, -4).split('\r\n')
      .filter((line) => line.slice(0, line.indexOf(':')).toLowerCase() === 'content-length')
      .map((line) => Number(line.slice(line.indexOf(':') + 1).trim()));
    assert.equal(declared.at(-1), f.bodyBytes, JSON.stringify(header));
  }
  for (const w of warnings) assert.ok(w.offset >= 0 && w.offset <= stream.length, `warning offset ${w.offset}`);
}

/** One damaged frame: one warning at it, every other frame recovered at its own offset. */
export function checkDamage(d: Damage, cuts: number[]): void {
  const { frames, warnings } = framerRead(split(d.stream, cuts));
  assert.equal(warnings.length, 1, `${d.kind}: ${JSON.stringify(warnings)}`);
  assert.equal(warnings[0].offset, d.warningOffset, d.kind);
  assert.deepEqual(frames.map((f) => f.offset), d.frames.map((f) => f.offset), d.kind);
  frames.forEach((f, i) => {
    const want = d.frames[i].body;
    if (want === null) assert.equal(f.identity.kind, 'invalid', d.kind);
    else assert.deepEqual(identityOf(f), parsedIdentity(want), d.kind);
  });
}

export function scan(body: Buffer, cuts: number[]): ReturnType<BodyScanner['finish']> {
  const s = new BodyScanner();
  for (const c of split(body, cuts)) s.feed(c, 0, c.length);
  return s.finish();
}

/** A valid JSON-RPC body: the scanner finds what JSON.parse finds. */
export function checkScannerOnRpcBody(body: Buffer, cuts: number[]): void {
  const got = scan(body, cuts);
  assert.deepEqual({ kind: got.kind, method: got.method, id: got.id, isError: got.isError }, parsedIdentity(body));
  assert.equal(got.invalidReason === null, got.kind !== 'invalid');
}

/** Any JSON object: the scanner agrees with the JSON.parse path and never says "not JSON". */
export function checkScannerOnObject(body: Buffer, cuts: number[]): void {
  const got = scan(body, cuts);
  const want = identifyParsed(body).identity;
  assert.deepEqual([got.kind, got.method, got.id, got.isError], [want.kind, want.method, want.id, want.isError]);
  assert.doesNotMatch(got.invalidReason ?? '', /not JSON/);
}

/** A cut or a changed byte: a cut object is invalid; a changed one is never misread as another kind. */
export function checkScannerOnDamage(body: Buffer, at: number, byte: number, cuts: number[]): void {
  let end = body.length;
  while (end > 0 && [0x20, 0x09, 0x0a, 0x0d].includes(body[end - 1])) end--;
  // Cut before the closing brace (not just in trailing whitespace): never a whole object.
  if (at < end) assert.equal(scan(body.subarray(0, at), cuts.filter((c) => c < at)).kind, 'invalid');
  const mutated = Buffer.from(body);
  mutated[at] = byte;
  let parsedKind: string;
  try { parsedKind = parsedIdentity(mutated).kind; } catch { parsedKind = 'invalid'; }
  const got = scan(mutated, cuts);
  // The scanner does not check the grammar inside nested values, so it may accept what
  // JSON.parse rejects there; it must never read a body JSON.parse accepts as another kind.
  if (got.kind !== 'invalid' && parsedKind !== 'invalid') assert.equal(got.kind, parsedKind);
}

/**
 * The small-body fast path (small-body.ts) answers only where it is sure, and then exactly
 * as the scanner does, so small and large bodies follow one rule; read in place inside a
 * larger buffer (the framer reads a body within its chunk), it answers the same.
 */
export function checkSmallAgreesWithScanner(body: Buffer): void {
  const fast = identifyCommon(body, 0, body.length);
  if (fast !== null) assert.deepEqual(fast, scan(body, []));
  const around = Buffer.concat([Buffer.from('{"id":1,"method":"x"}\r\n'), body, Buffer.from('Content-Length: 2\r\n\r\n{}')]);
  assert.deepEqual(identifyCommon(around, 23, 23 + body.length), fast);
}
