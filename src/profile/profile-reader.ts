// Reads profile files (model/profile-file.ts) back into samples whose stacks share one frame
// object per location, so an encoder can key on identity. Each "session" line starts a new
// id space. A line that does not parse, or names an id not defined before it, is counted
// and skipped: a file cut short by a crash still gives every whole sample before the cut.

import fs from 'node:fs';
import { WAIT_CAUSES, type ProfileFrame, type ProfileKind, type ProfileMapping, type ProfileSample, type WaitCause } from '../model/profile-file';

export interface ProfileData {
  samples: ProfileSample[];
  /** Left out by the writer at its size bound (the files' "cut" lines). */
  cut: { samples: number; count: number; valueNs: number };
  /** The sampling rate of the first part that records one. */
  hz: number | null;
  /** The earliest part's start, epoch ms. */
  startedAtMs: number | null;
  badLines: number;
}

export function emptyProfileData(): ProfileData {
  return { samples: [], cut: { samples: 0, count: 0, valueNs: 0 }, hz: null, startedAtMs: null, badLines: 0 };
}

type Json = Record<string, unknown>;

const isCount = (v: unknown): v is number => typeof v === 'number' && Number.isInteger(v) && v >= 0;
const isHex = (v: unknown): v is string => typeof v === 'string' && /^0x[0-9a-f]+$/i.test(v);
const isStrOrNull = (v: unknown): v is string | null => v === null || typeof v === 'string';

/** Adds one file's samples to data. Throws only if the file cannot be read. */
export function readProfileFile(file: string, data: ProfileData): void {
  const text = fs.readFileSync(file, 'utf8');
  let mappings = new Map<number, ProfileMapping>();
  let functions = new Map<number, { name: string; file: string | null }>();
  let locations = new Map<number, ProfileFrame>();
  let session: string | null = null;
  for (const raw of text.split('\n')) {
    if (raw === '') continue;
    let l: Json;
    try {
      l = JSON.parse(raw) as Json;
    } catch {
      data.badLines++;
      continue;
    }
    if (typeof l !== 'object' || l === null) { data.badLines++; continue; }
    switch (l.t) {
      case 'session': {
        mappings = new Map();
        functions = new Map();
        locations = new Map();
        session = typeof l.session === 'string' ? l.session : null;
        if (data.hz === null && typeof l.hz === 'number' && l.hz > 0) data.hz = l.hz;
        const at = typeof l.startedAt === 'string' ? Date.parse(l.startedAt) : NaN;
        if (!Number.isNaN(at) && (data.startedAtMs === null || at < data.startedAtMs)) data.startedAtMs = at;
        break;
      }
      case 'mapping':
        if (!isCount(l.i) || !isHex(l.start) || !isHex(l.limit) || !isHex(l.offset) || typeof l.file !== 'string' || !isStrOrNull(l.buildId)) { data.badLines++; break; }
        mappings.set(l.i, { start: BigInt(l.start), limit: BigInt(l.limit), offset: BigInt(l.offset), file: l.file, buildId: l.buildId });
        break;
      case 'function':
        if (!isCount(l.i) || typeof l.name !== 'string' || !isStrOrNull(l.file ?? null)) { data.badLines++; break; }
        functions.set(l.i, { name: l.name, file: (l.file as string | null | undefined) ?? null });
        break;
      case 'location': {
        const mapping = isCount(l.mapping) ? (l.mapping === 0 ? null : mappings.get(l.mapping)) : undefined;
        const fn = isCount(l.function) ? (l.function === 0 ? null : functions.get(l.function)) : undefined;
        if (!isCount(l.i) || !isHex(l.address) || !isCount(l.line) || mapping === undefined || fn === undefined) { data.badLines++; break; }
        locations.set(l.i, { mapping, address: BigInt(l.address), fn: fn?.name ?? null, file: fn?.file ?? null, line: l.line === 0 ? null : l.line });
        break;
      }
      case 'sample': {
        const stack = Array.isArray(l.stack) ? l.stack.map((i) => (isCount(i) ? locations.get(i) : undefined)) : [undefined];
        if ((l.kind !== 'cpu' && l.kind !== 'wait') || !isStrOrNull(l.method) || !isStrOrNull(l.id) || !isCount(l.count) || typeof l.valueNs !== 'number' || stack.some((f) => f === undefined)) {
          data.badLines++;
          break;
        }
        const cause = (WAIT_CAUSES as readonly unknown[]).includes(l.cause) ? { cause: l.cause as WaitCause } : {};
        data.samples.push({ kind: l.kind as ProfileKind, ...cause, method: l.method, id: l.id, count: l.count, valueNs: l.valueNs, stack: stack as ProfileFrame[], session });
        break;
      }
      case 'cut':
        if (!isCount(l.samples) || !isCount(l.count) || typeof l.valueNs !== 'number') { data.badLines++; break; }
        data.cut.samples += l.samples;
        data.cut.count += l.count;
        data.cut.valueNs += l.valueNs;
        break;
      default:
        data.badLines++;
    }
  }
}
