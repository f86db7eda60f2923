// The `message` lines written as bytes (src/sinks/message-line.ts) are the lines pino itself
// writes for the same fields (the oracle: pino's logger.info), byte for byte, whatever the
// record holds and however lines follow one another (repeated times and sizes are copied
// from the line before; batches fill, flush, and take lines too long for them). Seeds are
// printed; LSPTAP_SEED replays.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import pino from 'pino';
import { propertyParams } from './helpers/framing-oracle';
import { LineBatch } from '../src/sinks/line-batch';
import { MessageLineWriter } from '../src/sinks/message-line';
import type { MessageId } from '../src/model/frame';
import type { KernelTiming, MessageRecord } from '../src/model/record';

const START_NS = 12_440_329_096_750n;

/** The fields of a message line in docs/log-format.md order, as pino is given them. */
function schemaFields(rec: MessageRecord, startNs: number, withBodies: boolean): Record<string, unknown> {
  const ms = (ns: bigint): number => Math.round((Number(ns) - startNs) / 1e3) / 1e3;
  const f: Record<string, unknown> = {
    dir: rec.dir, kind: rec.kind, method: rec.method, id: rec.id,
    bytes: rec.bytes, headerBytes: rec.headerBytes, offset: rec.offset,
    firstByteMs: ms(rec.firstByteNs), lastByteMs: ms(rec.lastByteNs), forwardedMs: ms(rec.forwardedNs),
    clock: rec.clock,
  };
  if (rec.kind === 'response') {
    f.isError = rec.isError;
    f.latencyMs = rec.latencyMs === null ? null : Math.round(rec.latencyMs * 1000) / 1000;
    if (rec.unmatched) f.unmatched = true;
  }
  if (rec.cancelled) f.cancelled = true;
  if (rec.cancelsId !== null) f.cancelsId = rec.cancelsId;
  if (rec.invalidReason !== null) f.reason = rec.invalidReason;
  if (rec.kernel !== null) f.kernel = rec.kernel;
  if (withBodies && rec.body !== null) f.body = rec.body.toString('utf8');
  return f;
}

interface Pair { written: Buffer; expected: Buffer }

/** Write records with the byte writer and with pino itself; both logs, whole. */
function writeBoth(recs: MessageRecord[], withBodies: boolean, timestamp: (() => string) | undefined): Pair {
  const out: Buffer[] = [];
  const batch = new LineBatch({ write: (data) => { out.push(Buffer.from(data)); return true; } }, 1000);
  const opts = { base: { pid: 4242 }, messageKey: 'msg', ...(timestamp === undefined ? {} : { timestamp }) };
  const writer = new MessageLineWriter(pino(opts, batch).child({ session: 7 }), batch, withBodies);
  const lines: string[] = [];
  const oracle = pino(opts, { write: (s: string) => { lines.push(s); } }).child({ session: 7 });
  const startNs = Number(START_NS);
  for (const rec of recs) {
    writer.write(rec, startNs);
    oracle.info(schemaFields(rec, startNs, withBodies), 'message');
  }
  batch.flush();
  return { written: Buffer.concat(out), expected: Buffer.from(lines.join(''), 'utf8') };
}

// Strings pino and JSON.stringify write alike: well-formed (lone surrogates: see below).
const text = (maxLength: number): fc.Arbitrary<string> => fc.oneof(
  fc.constantFrom('textDocument/hover', 'initialize', '$/cancelRequest', 'méthode/ü', 'a"b\\c\n\u0001'),
  fc.string({ unit: 'binary', maxLength }),
);
const id: fc.Arbitrary<MessageId> = fc.oneof(
  fc.nat(),
  fc.maxSafeInteger(),
  fc.double({ noNaN: true, noDefaultInfinity: true }),
  text(40),
);
const kernel: fc.Arbitrary<KernelTiming> = fc.record({
  serverUs: fc.option(fc.nat()),
  toServerPipeUs: fc.option(fc.nat()),
  blockedOtherOn: fc.option(text(20)),
}, { requiredKeys: [] });

/** A burst: records drawing times and sizes from small pools, so lines repeat them. */
const burst = fc.record({
  times: fc.array(fc.bigInt({ min: -(10n ** 12n), max: 10n ** 19n }).map((d) => START_NS + d), { minLength: 1, maxLength: 3 }),
  withBodies: fc.boolean(),
  recs: fc.array(fc.record({
    dir: fc.constantFrom('c2s' as const, 's2c' as const),
    kind: fc.constantFrom('request' as const, 'response' as const, 'notification' as const, 'invalid' as const),
    method: fc.option(text(200)),
    id: fc.option(id),
    bytes: fc.oneof(fc.constant(149), fc.maxSafeNat()),
    headerBytes: fc.oneof(fc.constant(23), fc.nat(9999)),
    offset: fc.maxSafeNat(),
    times: fc.tuple(fc.nat(2), fc.nat(2), fc.nat(2)),
    clock: fc.constantFrom('js' as const, 'kernel' as const),
    isError: fc.option(fc.boolean()),
    latencyMs: fc.option(fc.oneof(fc.double({ min: 0, max: 1e6 }), fc.double())),
    cancelled: fc.boolean(),
    cancelsId: fc.option(id, { freq: 4 }),
    invalidReason: fc.option(text(100), { freq: 4 }),
    unmatched: fc.boolean(),
    kernel: fc.option(kernel, { freq: 3 }),
    body: fc.option(fc.oneof(fc.uint8Array({ maxLength: 300 }), fc.uint8Array({ minLength: 23_000, maxLength: 40_000 })).map((b) => Buffer.from(b)), { freq: 3 }),
  }), { maxLength: 40 }),
}).map(({ times, withBodies, recs }) => ({
  withBodies,
  recs: recs.map((r): MessageRecord => ({
    ...r,
    firstByteNs: times[r.times[0] % times.length], lastByteNs: times[r.times[1] % times.length], forwardedNs: times[r.times[2] % times.length],
    request: null,
  })),
}));

test('writes the line pino writes for the same fields, byte for byte, in any burst of records', (t) => {
  fc.assert(fc.property(burst, ({ withBodies, recs }) => {
    const { written, expected } = writeBoth(recs, withBodies, () => ',"time":1700000000123');
    assert.equal(written.toString('utf8'), expected.toString('utf8'));
    assert.ok(written.equals(expected));
  }), propertyParams(t, 300));
});

test("with pino's own clock, writes the time of writing and otherwise pino's line", () => {
  const rec: MessageRecord = {
    dir: 'c2s', kind: 'request', method: 'textDocument/hover', id: 7, bytes: 149, headerBytes: 23, offset: 0,
    firstByteNs: START_NS + 104_963_000n, lastByteNs: START_NS + 104_963_400n, forwardedNs: START_NS + 105_001_000n, clock: 'js',
    isError: null, latencyMs: null, request: null, cancelled: false, cancelsId: null, invalidReason: null, unmatched: false, body: null, kernel: null,
  };
  const before = Date.now();
  const { written, expected } = writeBoth(Array.from({ length: 500 }, () => rec), false, undefined);
  const after = Date.now();
  const times = [...written.toString('utf8').matchAll(/"time":(\d+),/g)].map((m) => Number(m[1]));
  assert.equal(times.length, 500);
  for (const t of times) assert.ok(t >= before && t <= after, `time ${t} outside [${before}, ${after}]`);
  const untimed = (b: Buffer): string => b.toString('utf8').replace(/"time":\d+,/g, '"time":0,');
  assert.equal(untimed(written), untimed(expected));
});

test('escapes a lone surrogate in a method as JSON.stringify does, rather than writing a replacement character', () => {
  const out: Buffer[] = [];
  const batch = new LineBatch({ write: (data) => { out.push(Buffer.from(data)); return true; } }, 1000);
  const writer = new MessageLineWriter(pino({ base: {} }, batch), batch, false);
  writer.write({
    dir: 's2c', kind: 'notification', method: 'x\ud800y', id: null, bytes: 1, headerBytes: 1, offset: 0,
    firstByteNs: START_NS, lastByteNs: START_NS, forwardedNs: START_NS, clock: 'js',
    isError: null, latencyMs: null, request: null, cancelled: false, cancelsId: null, invalidReason: null, unmatched: false, body: null, kernel: null,
  }, Number(START_NS));
  batch.flush();
  const line = Buffer.concat(out).toString('utf8');
  assert.match(line, /"method":"x\\ud800y"/);
  assert.equal((JSON.parse(line) as { method: string }).method, 'x\ud800y');
});
