// The top functions of a set of samples, as `go tool pprof -top` ranks them: flat (time in
// the function itself: the leaf) and cumulative (time with the function anywhere on the
// stack, counted once per stack when it recurses). One ranking for `lsptap profile`'s text,
// the report and the per-response `profile` object. A frame nothing names is shown as its
// mapping's file and offset (`gopls+0x1a2b3c`), or its address.

import type { ProfileFrame, ProfileSample } from './profile-file';

export interface TopFunction {
  name: string;
  flatNs: number;
  cumNs: number;
}

export interface TopFunctions {
  totalNs: number;
  /** Sorted by flat time, then cumulative, then name. */
  functions: TopFunction[];
}

/** How a frame is shown where there is no function name. */
export function frameName(f: ProfileFrame): string {
  if (f.fn !== null) return f.fn;
  if (f.mapping === null) return `0x${f.address.toString(16)}`;
  const base = f.mapping.file.slice(f.mapping.file.lastIndexOf('/') + 1) || '[anon]';
  return `${base}+0x${(f.address - f.mapping.start + f.mapping.offset).toString(16)}`;
}

export function topFunctions(samples: Iterable<ProfileSample>, limit = Infinity): TopFunctions {
  const rows = new Map<string, TopFunction>();
  const row = (name: string): TopFunction => {
    let r = rows.get(name);
    if (!r) rows.set(name, (r = { name, flatNs: 0, cumNs: 0 }));
    return r;
  };
  let totalNs = 0;
  for (const s of samples) {
    totalNs += s.valueNs;
    if (s.stack.length === 0) continue;
    row(frameName(s.stack[0])).flatNs += s.valueNs;
    const seen = new Set<string>();
    for (const f of s.stack) {
      const name = frameName(f);
      if (seen.has(name)) continue;
      seen.add(name);
      row(name).cumNs += s.valueNs;
    }
  }
  const functions = [...rows.values()].sort((a, b) => b.flatNs - a.flatNs || b.cumNs - a.cumNs || (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  return { totalNs, functions: functions.slice(0, limit) };
}
