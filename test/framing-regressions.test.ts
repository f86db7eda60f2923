// Regression fixtures for framing bugs (test/fixtures/framing/*.json: the stream, the frames
// and warnings it must give, how the bug was found) and the inputs `npm run fuzz` saved when
// a check failed (test/fixtures/fuzz/*.json), replayed through the same check.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { fixtures, rng } from './helpers/index';
import { framerRead } from './helpers/framing-oracle';
import { split } from './helpers/lsp-arbitraries';
import { replay, type Finding } from './helpers/fuzz-findings';

interface FramingFixture {
  about: string;
  parts: ({ text: string } | { fill: number; count: number } | { base64: string })[];
  frames: { offset: number; kind: string; method: string | null; id: number | string | null }[];
  warnings: { offset: number; reason: string }[];
}

function streamOf(fx: FramingFixture): Buffer {
  return Buffer.concat(fx.parts.map((p) => ('text' in p ? Buffer.from(p.text, 'utf8') : 'fill' in p ? Buffer.alloc(p.count, p.fill) : Buffer.from(p.base64, 'base64'))));
}

const jsonFiles = (dir: string): string[] => (fs.existsSync(dir) ? fs.readdirSync(dir).filter((f) => f.endsWith('.json')).sort() : []);

const framingDir = path.join(fixtures, 'framing');
for (const name of jsonFiles(framingDir)) {
  const fx = JSON.parse(fs.readFileSync(path.join(framingDir, name), 'utf8')) as FramingFixture;
  test(`framing fixture ${name}: ${fx.about}`, (t) => {
    const stream = streamOf(fx);
    const seed = Number(process.env.LSPTAP_SEED ?? Date.now() % 1e9);
    t.diagnostic(`chunking seed ${seed}`);
    const rand = rng(seed);
    const chunkings: number[][] = [[]];
    for (let round = 0; round < 20; round++) {
      const cuts: number[] = [];
      let p = 0;
      while ((p += 1 + Math.floor(rand() * 600)) < stream.length) cuts.push(p);
      chunkings.push(cuts);
    }
    for (const cuts of chunkings) {
      const { frames, warnings } = framerRead(split(stream, cuts));
      assert.deepEqual(frames.map((f) => ({ offset: f.offset, kind: f.identity.kind, method: f.identity.method, id: f.identity.id })), fx.frames, `cuts ${cuts.join(',')}`);
      assert.deepEqual(warnings.map((w) => w.offset), fx.warnings.map((w) => w.offset));
      warnings.forEach((w, i) => assert.ok(w.reason.startsWith(fx.warnings[i].reason), `${w.reason} does not start with ${fx.warnings[i].reason}`));
    }
  });
}

const fuzzDir = path.join(fixtures, 'fuzz');
for (const name of jsonFiles(fuzzDir)) {
  test(`fuzz finding ${name} passes its check`, () => {
    replay(JSON.parse(fs.readFileSync(path.join(fuzzDir, name), 'utf8')) as Finding);
  });
}
