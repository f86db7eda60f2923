// Samples -> a gzipped pprof profile.proto, the format `go tool pprof` and speedscope read,
// encoded by `pprof-format` (Datadog's maintained encoder) rather than by hand. Sample types
// are samples/count and cpu/nanoseconds (or wait/nanoseconds); every sample carries the
// string labels `method` and `id` so `go tool pprof -tagfocus id=12` picks one request
// (background samples: method "(background)", no id), and wait samples the label `cause`
// (`-tagfocus cause=disk`: model/profile-file.ts WAIT_CAUSES); a whole-number id is a numeric `id`
// label too, since that is what pprof's `id=12` (a range) matches. Mappings whose every frame was named
// say so (has_functions, has_filenames, has_line_numbers), so pprof does not try to
// symbolize them again from files that may have changed since.

import zlib from 'node:zlib';
import {
  Function as PprofFunction, Label, Line, Location, Mapping, Profile, Sample, StringTable, ValueType,
} from 'pprof-format';
import { KERNEL_MAPPING_FILE, type ProfileFrame, type ProfileKind, type ProfileMapping, type ProfileSample } from '../model/profile-file';
import { leafOnlyBinaries, leafOnlyText } from '../model/leaf-stacks';

/** The `method` label of samples taken with no request in flight. */
export const BACKGROUND_LABEL = '(background)';

export interface PprofOptions {
  kind: ProfileKind;
  /** Sampling rate: sets the profile's period. */
  hz: number | null;
  startedAtMs: number | null;
}

/**
 * A whole-number id, also written as a numeric `id` label: pprof reads `-tagfocus id=12` as
 * a numeric range, which only numeric labels match (a regexp form, id=^12$, matches the text).
 */
function numericId(id: string | number | null): number | null {
  const text = id === null ? '' : String(id);
  return /^(0|-?[1-9]\d{0,14})$/.test(text) ? Number(text) : null;
}

export function encodePprof(samples: readonly ProfileSample[], options: PprofOptions): Buffer {
  const strings = new StringTable();
  const str = (s: string): number => strings.dedup(s);
  const mappingIds = new Map<ProfileMapping, number>();
  const mappingNamed = new Map<ProfileMapping, { functions: boolean; files: boolean; lines: boolean }>();
  const functionIds = new Map<string, number>();
  const locationIds = new Map<ProfileFrame, number>();
  const mappings: Mapping[] = [];
  const functions: PprofFunction[] = [];
  const locations: Location[] = [];

  const mappingId = (m: ProfileMapping | null, f: ProfileFrame): number => {
    if (m === null) return 0;
    let id = mappingIds.get(m);
    if (id === undefined) {
      id = mappings.length + 1;
      mappingIds.set(m, id);
      mappingNamed.set(m, { functions: true, files: true, lines: true });
      mappings.push(new Mapping({ id, memoryStart: m.start, memoryLimit: m.limit, fileOffset: m.offset, filename: str(m.file), buildId: str(m.buildId ?? '') }));
    }
    const named = mappingNamed.get(m)!;
    named.functions &&= f.fn !== null;
    named.files &&= f.file !== null;
    named.lines &&= f.line !== null;
    return id;
  };
  const functionId = (f: ProfileFrame): number => {
    const key = `${f.fn}\0${f.file ?? ''}`;
    let id = functionIds.get(key);
    if (id === undefined) {
      id = functions.length + 1;
      functionIds.set(key, id);
      functions.push(new PprofFunction({ id, name: str(f.fn!), systemName: str(f.fn!), filename: str(f.file ?? '') }));
    }
    return id;
  };
  const locationId = (f: ProfileFrame): number => {
    let id = locationIds.get(f);
    if (id === undefined) {
      id = locations.length + 1;
      locationIds.set(f, id);
      const line = f.fn === null ? [] : [new Line({ functionId: functionId(f), line: f.line ?? 0 })];
      locations.push(new Location({ id, mappingId: mappingId(f.mapping, f), address: f.address, line }));
    }
    return id;
  };

  // pprof takes the first mapping for the main binary ("File:" in its output): register
  // user mappings first, outermost frames first (the executable), the kernel's last.
  for (const kernelLast of [false, true]) {
    for (const s of samples) {
      for (let i = s.stack.length - 1; i >= 0; i--) {
        const m = s.stack[i].mapping;
        if (m !== null && (m.file === KERNEL_MAPPING_FILE) === kernelLast && !mappingIds.has(m)) mappingId(m, s.stack[i]);
      }
    }
  }
  const methodKey = str('method');
  const idKey = str('id');
  const causeKey = str('cause');
  const out: Sample[] = samples.map((s) => new Sample({
    locationId: s.stack.map(locationId),
    value: [s.count, Math.round(s.valueNs)],
    label: [
      new Label({ key: methodKey, str: str(s.method ?? BACKGROUND_LABEL) }),
      ...(s.id === null ? [] : [new Label({ key: idKey, str: str(String(s.id)) })]),
      ...(numericId(s.id) === null ? [] : [new Label({ key: idKey, num: numericId(s.id)! })]),
      ...(s.cause === undefined ? [] : [new Label({ key: causeKey, str: str(s.cause) })]),
    ],
  }));
  for (const [m, named] of mappingNamed) {
    const mapping = mappings[mappingIds.get(m)! - 1];
    mapping.hasFunctions = named.functions;
    mapping.hasFilenames = named.files;
    mapping.hasLineNumbers = named.lines;
  }
  const valueName = options.kind === 'cpu' ? 'cpu' : 'wait';
  const leafOnly = leafOnlyBinaries(samples);
  const profile = new Profile({
    sampleType: [new ValueType({ type: str('samples'), unit: str('count') }), new ValueType({ type: str(valueName), unit: str('nanoseconds') })],
    sample: out,
    mapping: mappings,
    location: locations,
    function: functions,
    stringTable: strings,
    periodType: new ValueType({ type: str(valueName), unit: str('nanoseconds') }),
    period: options.hz !== null && options.hz > 0 ? Math.round(1e9 / options.hz) : 0,
    timeNanos: options.startedAtMs === null ? 0 : BigInt(Math.round(options.startedAtMs)) * 1_000_000n,
    defaultSampleType: str(valueName),
    // `go tool pprof -comments` shows it: the callers these binaries' stacks lack are not in the graph.
    comment: leafOnly.length > 0 ? [str(`stacks stop at the leaf in ${leafOnlyText(leafOnly)}: built without frame pointers`)] : [],
  });
  return zlib.gzipSync(profile.encode());
}
