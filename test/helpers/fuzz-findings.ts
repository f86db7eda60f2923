// Saved fuzz findings: what `npm run fuzz` writes to test/fixtures/fuzz/ when a check fails,
// and how the test suite replays one. An input is stored whole (base64), with the seed.

import fs from 'node:fs';
import path from 'node:path';
import type { Damage } from './lsp-arbitraries';
import { checkChunkingInvariance, checkDamage, checkFramesInStream, checkNoRetention, checkScannerOnDamage, checkScannerOnObject, checkScannerOnRpcBody } from './framing-checks';

export type Finding =
  | { check: 'chunking'; stream: string; cutsA: number[]; cutsB: number[] }
  | { check: 'retention' | 'frames-in-stream'; stream: string; cuts: number[] }
  | { check: 'damage'; kind: Damage['kind']; stream: string; warningOffset: number; frames: { offset: number; body: string | null }[]; cuts: number[] }
  | { check: 'scanner-rpc' | 'scanner-object'; body: string; cuts: number[] }
  | { check: 'scanner-damage'; body: string; at: number; byte: number; cuts: number[] };

const b64 = (s: string): Buffer => Buffer.from(s, 'base64');

/** Run the check a finding names; throws as the check does. */
export function replay(f: Finding): void {
  switch (f.check) {
    case 'chunking': return checkChunkingInvariance(b64(f.stream), f.cutsA, f.cutsB);
    case 'retention': return checkNoRetention(b64(f.stream), f.cuts);
    case 'frames-in-stream': return checkFramesInStream(b64(f.stream), f.cuts);
    case 'damage': return checkDamage({
      kind: f.kind, stream: b64(f.stream), warningOffset: f.warningOffset,
      frames: f.frames.map((x) => ({ offset: x.offset, body: x.body === null ? null : b64(x.body) })),
    }, f.cuts);
    case 'scanner-rpc': return checkScannerOnRpcBody(b64(f.body), f.cuts);
    case 'scanner-object': return checkScannerOnObject(b64(f.body), f.cuts);
    case 'scanner-damage': return checkScannerOnDamage(b64(f.body), f.at, f.byte, f.cuts);
    default: throw new Error(`unknown check in ${JSON.stringify(f)}`);
  }
}

/** Save a failing input as a regression fixture; returns its path. */
export function saveFinding(dir: string, seed: number, index: number, error: unknown, finding: Finding): string {
  fs.mkdirSync(dir, { recursive: true });
  const file = path.join(dir, `${finding.check}-seed${seed}-${index}.json`);
  const about = `npm run fuzz, seed ${seed}, input ${index}: ${String((error as Error)?.message ?? error).split('\n')[0].slice(0, 200)}`;
  fs.writeFileSync(file, `${JSON.stringify({ about, seed, index, ...finding }, null, 1)}\n`);
  return file;
}
