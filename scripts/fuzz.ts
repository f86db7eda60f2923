// npm run fuzz: the framing checks of the property tests, run over many more generated
// inputs (1,100,000 by default; FUZZ_SCALE=0.1 runs a tenth). Seeds are printed (FUZZ_SEED
// replays a run); a failing input is shrunk and saved under test/fixtures/fuzz/, where the
// test suite replays it. Exits 1 when anything failed.

import path from 'node:path';
import fc from 'fast-check';
import { cutsFor, damagedStream, noisyStream, rpcBodyText, valueText, type Damage } from '../test/helpers/lsp-arbitraries';
import { checkChunkingInvariance, checkDamage, checkFramesInStream, checkNoRetention, checkScannerOnDamage, checkScannerOnObject, checkScannerOnRpcBody } from '../test/helpers/framing-checks';
import { saveFinding, type Finding } from '../test/helpers/fuzz-findings';

const b64 = (b: Buffer): string => b.toString('base64');
const withCuts = (arb: fc.Arbitrary<Buffer>): fc.Arbitrary<[Buffer, number[]]> => arb.chain((b) => fc.tuple(fc.constant(b), cutsFor(b.length)));
const body = (arb: fc.Arbitrary<string>): fc.Arbitrary<Buffer> => arb.map((s) => Buffer.from(s, 'utf8'));

interface Campaign<T> {
  name: Finding['check'];
  inputs: number;
  arb: fc.Arbitrary<T>;
  check: (x: T) => void;
  finding: (x: T) => Finding;
}

const campaign = <T>(c: Campaign<T>): Campaign<unknown> => c as unknown as Campaign<unknown>;

const campaigns: Campaign<unknown>[] = [
  campaign({
    name: 'chunking', inputs: 300_000,
    arb: noisyStream.chain((s) => fc.tuple(fc.constant(s), cutsFor(s.length), cutsFor(s.length))),
    check: ([s, a, b]) => checkChunkingInvariance(s, a, b),
    finding: ([s, a, b]) => ({ check: 'chunking', stream: b64(s), cutsA: a, cutsB: b }),
  }),
  campaign({
    name: 'retention', inputs: 100_000, arb: withCuts(noisyStream),
    check: ([s, c]) => checkNoRetention(s, c),
    finding: ([s, c]) => ({ check: 'retention', stream: b64(s), cuts: c }),
  }),
  campaign({
    name: 'frames-in-stream', inputs: 200_000, arb: withCuts(noisyStream),
    check: ([s, c]) => checkFramesInStream(s, c),
    finding: ([s, c]) => ({ check: 'frames-in-stream', stream: b64(s), cuts: c }),
  }),
  campaign({
    name: 'damage', inputs: 200_000,
    arb: damagedStream.chain((d) => fc.tuple(fc.constant(d), cutsFor(d.stream.length))),
    check: ([d, c]: [Damage, number[]]) => checkDamage(d, c),
    finding: ([d, c]: [Damage, number[]]) => ({
      check: 'damage', kind: d.kind, stream: b64(d.stream), warningOffset: d.warningOffset,
      frames: d.frames.map((f) => ({ offset: f.offset, body: f.body === null ? null : b64(f.body) })), cuts: c,
    }),
  }),
  campaign({
    name: 'scanner-rpc', inputs: 100_000, arb: withCuts(body(rpcBodyText({ hugeChance: 0.05 }))),
    check: ([b, c]) => checkScannerOnRpcBody(b, c),
    finding: ([b, c]) => ({ check: 'scanner-rpc', body: b64(b), cuts: c }),
  }),
  campaign({
    name: 'scanner-object', inputs: 100_000, arb: withCuts(body(valueText.filter((v) => v.startsWith('{')))),
    check: ([b, c]) => checkScannerOnObject(b, c),
    finding: ([b, c]) => ({ check: 'scanner-object', body: b64(b), cuts: c }),
  }),
  campaign({
    name: 'scanner-damage', inputs: 100_000,
    arb: body(rpcBodyText({ hugeChance: 0.05 })).chain((b) => fc.tuple(fc.constant(b), fc.nat({ max: b.length - 1 }), fc.integer({ min: 0, max: 255 }), cutsFor(b.length))),
    check: ([b, at, byte, c]) => checkScannerOnDamage(b, at, byte, c),
    finding: ([b, at, byte, c]) => ({ check: 'scanner-damage', body: b64(b), at, byte, cuts: c }),
  }),
];

function main(): number {
  const scale = Number(process.env.FUZZ_SCALE ?? 1);
  const seed = process.env.FUZZ_SEED !== undefined ? Number(process.env.FUZZ_SEED) : Date.now() % 2 ** 31;
  const outDir = path.resolve(__dirname, '..', '..', 'test', 'fixtures', 'fuzz');
  console.log(`lsptap fuzz: seed ${seed} (replay: FUZZ_SEED=${seed} npm run fuzz), scale ${scale}`);
  const t0 = process.hrtime.bigint();
  let total = 0;
  let failures = 0;
  campaigns.forEach((c, i) => {
    const cSeed = (seed + i * 7919) % 2 ** 31;
    const numRuns = Math.max(1, Math.round(c.inputs * scale));
    const t1 = process.hrtime.bigint();
    const details = fc.check(fc.property(c.arb, (x) => { c.check(x); }), { seed: cSeed, numRuns, includeErrorInReport: true });
    const secs = Number(process.hrtime.bigint() - t1) / 1e9;
    total += details.numRuns;
    if (details.failed && details.counterexample !== null) {
      failures++;
      const [x] = details.counterexample;
      const file = saveFinding(outDir, cSeed, details.numRuns, details.errorInstance, c.finding(x));
      console.log(`${c.name}: FAILED after ${details.numRuns} inputs (seed ${cSeed}, path ${details.counterexamplePath}): ${String((details.errorInstance as Error)?.message).split('\n')[0]}\n  saved ${file}`);
    } else {
      console.log(`${c.name}: ${details.numRuns} inputs passed in ${secs.toFixed(1)} s (seed ${cSeed})`);
    }
  });
  const secs = Number(process.hrtime.bigint() - t0) / 1e9;
  console.log(`lsptap fuzz: ${total} inputs in ${secs.toFixed(1)} s, ${failures} failing check(s)`);
  return failures > 0 ? 1 : 0;
}

process.exitCode = main();
