// What a request's profile (kernel.profile) adds to its sentence (sinks/kernel-text.ts), as
// clauses: on the busy part, the functions the server's CPU time worked for; on a wait part,
// the function that waited. Clauses qualify a part, so the parts still add up.

import { CPU_IN_GC, CPU_IN_KERNEL, CPU_IN_RUNTIME, NO_WAITER, type KernelTiming, type ProfileShare, type WaitCauseShare } from '../model/record';
import type { SentencePart } from './kernel-text';

/** Fewer CPU ticks than this say too little for a share (a 50 ms request at 99 Hz has 5). */
const MIN_TICKS = 5;
/** Functions named per clause at most; after the first, only those with this share or more. */
const NAMED_MAX = 3;
const NAMED_MIN_PCT = 10;
/**
 * Logs written before the wait profile had causes: its functions go to the largest wait
 * part, and only when that part is more than this share of the blocked time; the clause
 * says `of the wait`: of all the server's blocked time.
 */
const WAIT_PART_SHARE = 0.5;

/** A frame nothing named (an address, `node+0x1a2b`, `[anon]+0x10`: JIT code without a perf map): a share of it tells a reader nothing. */
const UNNAMED = /^0x[0-9a-f]+$|\+0x[0-9a-f]+$|^\[(stack lost|no stack)\]$/;

const PHRASES: Record<string, string> = {
  [CPU_IN_GC]: 'the Go garbage collector', [CPU_IN_RUNTIME]: 'the Go runtime', [CPU_IN_KERNEL]: 'the kernel',
};

/** `31 % in F, 12 % in G`; `first` words the first share (`of the wait` after the percent). */
function sharesText(shares: unknown, first = ''): string | null {
  if (!Array.isArray(shares)) return null; // a log written before the field existed
  const said = (shares as ProfileShare[])
    .filter((s) => typeof s?.fn === 'string' && typeof s.pct === 'number' && s.fn !== NO_WAITER && !UNNAMED.test(s.fn) && Math.round(s.pct) >= 1)
    .filter((s, i) => i === 0 || s.pct >= NAMED_MIN_PCT)
    .slice(0, NAMED_MAX);
  return said.length === 0 ? null : said.map((s, i) => `${Math.round(s.pct)} %${i === 0 ? first : ''} in ${PHRASES[s.fn] ?? s.fn}`).join(', ');
}

/**
 * Adds the profile's clauses to a request's parts: `31 % in go/types.(*Checker).exprInternal`
 * on the busy part (shares of the server's CPU ticks in the window, so of its thread time),
 * `95 % of the wait in main.blockInSyscall` on each wait part (its causes in waitCauses; in older logs the largest part, when it holds most of the blocked time).
 *
 * The CPU clause quotes cpuIn, not self or total. A Go server's self list is mostly its
 * runtime (in a gopls references request the top five were the collector's scanobject and
 * findObject, memclr, map growth and a kernel frame), and the top of the total list is what
 * every stack passes through (runtime.goexit, the handler's dispatch); neither says what the
 * request did. cpuIn charges the runtime's work for a function (allocation, copying, map
 * access, its syscalls) to that function and names the collector as one thing, so a reader
 * gets the code that asked for the time, and nothing is left out: the shares still cover
 * every tick.
 */
export function addProfileClauses(parts: SentencePart[], k: KernelTiming): void {
  const p = k.profile;
  if (p === null || p === undefined || typeof p !== 'object') return;
  if (typeof p.samples === 'number' && p.samples >= MIN_TICKS) {
    const busy = parts.find((x) => x.kind === 'busy');
    const cpu = sharesText(p.cpuIn);
    if (busy !== undefined && cpu !== null) {
      busy.clauses.push(cpu);
      // The names above are then leaves without their callers: say so where it happened.
      const leafOnly = Array.isArray(p.leafOnly) ? p.leafOnly.filter((b) => typeof b?.file === 'string') : [];
      if (leafOnly.length > 0) busy.clauses.push(`stacks stop at the leaf in ${leafOnly.map((b) => b.file).join(', ')}: no frame pointers`);
    }
  }
  const blockedUs = k.serverBlockedUs ?? 0;
  if (typeof p.waitMs !== 'number' || p.waitMs <= 0 || blockedUs <= 0) return;
  if (Array.isArray(p.waitCauses)) {
    // Each wait part names the functions that waited on its own causes (`of the wait`: of that part).
    for (const part of parts) {
      if (part.kind !== 'child' && part.kind !== 'disk' && part.kind !== 'other') continue;
      const waited = sharesText(partShares(p.waitCauses.filter((c) => (part.kind === 'other' ? c.cause !== 'child' && c.cause !== 'disk' : c.cause === part.kind))), ' of the wait');
      if (waited !== null) part.clauses.push(waited);
    }
    return;
  }
  // Parts come largest first: the first wait part is the largest.
  const wait = parts.find((x) => x.kind === 'child' || x.kind === 'disk' || x.kind === 'other');
  if (wait === undefined || wait.us <= WAIT_PART_SHARE * blockedUs) return;
  // `of the wait`: the part's own clause is its children's thread time, which this is not.
  const waited = sharesText(p.waitIn, ' of the wait');
  if (waited !== null) wait.clauses.push(waited);
}

/** The functions that waited on some causes, as shares of their summed time. */
function partShares(causes: readonly WaitCauseShare[]): ProfileShare[] {
  if (causes.length === 1) return causes[0].in;
  const ms = new Map<string, number>();
  let whole = 0;
  for (const c of causes) {
    if (typeof c?.ms !== 'number' || !Array.isArray(c.in)) continue;
    whole += c.ms;
    for (const s of c.in) ms.set(s.fn, (ms.get(s.fn) ?? 0) + (c.ms * s.pct) / 100);
  }
  return [...ms].sort((a, b) => b[1] - a[1]).map(([fn, m]) => ({ fn, pct: whole > 0 ? Math.round((1000 * m) / whole) / 10 : 0 }));
}
