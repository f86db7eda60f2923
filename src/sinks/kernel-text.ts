// Kernel timing for people: one sentence per slow request that accounts for its whole
// latency, largest part first (the pipe to the server, the server busy, what it waited for:
// its children, the disk, something else; its write, the pipe back), and the server's fd
// report. Used by --summary (so the demo) and `lsptap report`.

import type { FdReport, KernelChild, KernelTiming } from '../model/record';
import { processName } from '../model/process-name';
import { addProfileClauses } from './profile-clauses';

const ms = (us: number): string => (us < 10_000 ? (us / 1000).toFixed(1) : Math.round(us / 1000).toLocaleString('en-US'));
const count = (n: number): string => n.toLocaleString('en-US');
const mb = (bytes: number): string => (bytes < 10e6 ? (bytes / 1e6).toFixed(1) : Math.round(bytes / 1e6).toString());

/** Parts under this (µs) are left out of a sentence once the parts said cover 90 % of it. */
const NOTABLE_US = 1000;
/** At most this share of a request's latency goes unsaid. */
const UNSAID_SHARE = 0.1;

/** A child's name as people say it: `go list`, `compile`, `tsserver` (model/process-name.ts). */
export function childName(c: KernelChild): string {
  return processName(c.args, c.path, c.comm);
}

/**
 * The children that mattered most in the window, by name: the one with the most CPU in it
 * (then the longest there), `go list`, `tsserver and 2 others`.
 */
function childrenText(children: KernelChild[]): string {
  if (children.length === 0) return 'its children';
  const longest = [...children].sort((a, b) => (b.cpuUs ?? 0) - (a.cpuUs ?? 0) || (b.wallUs ?? 0) - (a.wallUs ?? 0))[0];
  const others = children.length - 1;
  return others === 0 ? childName(longest) : `${childName(longest)} and ${others} other${others === 1 ? '' : 's'}`;
}

/** Which stretch of a request's latency a part is (docs/kernel-timing.md "Sentences"). */
export type SentencePartKind = 'toServer' | 'busy' | 'child' | 'disk' | 'other' | 'write' | 'back' | 'unmeasured';

/**
 * One stretch of a request's wall time: `us` of it, said as `${ms} ms ${text}`, then its
 * clauses in parentheses. The parts of a request do not overlap and add up to its latency,
 * so none is larger than the whole. Clauses qualify a part without being parts (thread
 * time summed over threads, what a profile saw in it) and may be added by later stages.
 */
export interface SentencePart {
  kind: SentencePartKind;
  us: number;
  text: string;
  clauses: string[];
}

/**
 * A request's latency cut into the stretches that make it up (latencyMs × 1000 =
 * toServerPipeUs + serverUs + serverWriteUs + toLsptapPipeUs, and serverUs = busy + blocked
 * on a child + on the disk + on something else), largest first, with what the kernel could
 * not tell as `unmeasured`. Parts under 1 ms are left out once the rest covers 90 % of the
 * latency; what its profile saw goes in clauses (sinks/profile-clauses.ts). Null when the
 * record has no server window.
 */
export function explainParts(latencyMs: number, k: KernelTiming, server = 'the server'): SentencePart[] | null {
  if (typeof k.serverUs !== 'number' || typeof k.serverBlockedUs !== 'number') return null;
  const all: SentencePart[] = [];
  const add = (kind: SentencePartKind, us: number | null | undefined, text: string, clauses: string[] = []): void => {
    if (typeof us === 'number' && us > 0) all.push({ kind, us, text, clauses });
  };
  add('toServer', k.toServerPipeUs, `before ${server} read it`);
  const runq = k.serverRunqUs ?? 0;
  add('busy', Math.max(0, k.serverUs - k.serverBlockedUs), `${server} busy`,
    [`thread time ${ms(k.serverCpuUs ?? 0)} ms on a CPU${runq >= NOTABLE_US ? `, ${ms(runq)} ms waiting for one` : ''}`]);
  add('child', k.blockedOnChildUs, `${server} waited for ${childrenText(k.children ?? [])}`, [`thread time ${ms(k.childCpuUs ?? 0)} ms on a CPU`]);
  add('disk', k.blockedOnDiskUs, `${server} waited for the disk`, [`${count(k.diskIos ?? 0)} reads, ${mb(k.diskIoBytes ?? 0)} MB`]);
  add('other', k.blockedOtherUs, `${server} waited ${otherText(k.blockedOtherOn ?? null)}`);
  add('write', k.serverWriteUs, `${server} writing the answer`);
  add('back', k.toLsptapPipeUs, 'before lsptap read the answer');
  const wholeUs = latencyMs * 1000;
  const known = all.reduce((sum, p) => sum + p.us, 0);
  add('unmeasured', wholeUs - known >= NOTABLE_US ? Math.round(wholeUs - known) : 0, 'not measured');
  all.sort((a, b) => b.us - a.us);
  const said: SentencePart[] = [];
  let saidUs = 0;
  for (const p of all) {
    if (p.us < NOTABLE_US && wholeUs - saidUs <= UNSAID_SHARE * wholeUs) break;
    said.push(p);
    saidUs += p.us;
  }
  addProfileClauses(said, k);
  return said;
}

/** `initialize 395 ms: 287 ms before pylsp read it, 105 ms pylsp busy (thread time ...)`. */
export function formatExplanation(method: string, latencyMs: number, parts: SentencePart[]): string {
  const said = parts.map((p) => `${ms(p.us)} ms ${p.text}${p.clauses.length > 0 ? ` (${p.clauses.join('; ')})` : ''}`);
  return `${method} ${Math.round(latencyMs).toLocaleString('en-US')} ms: ${said.length > 0 ? said.join(', ') : 'nothing measured'}`;
}

/**
 * `textDocument/documentSymbol 3,027 ms: 2,135 ms gopls waited for go list and 1 other
 * (thread time 2,585 ms on a CPU), 751 ms gopls busy (thread time 751 ms on a CPU), 238 ms
 * gopls waited for the disk (7,072 reads, 82 MB)`. Null when the record has no server window.
 */
export function explainRequest(method: string, latencyMs: number, k: KernelTiming, server = 'the server'): string | null {
  const parts = explainParts(latencyMs, k, server);
  return parts === null ? null : formatExplanation(method, latencyMs, parts);
}

/** What the server waited on in its other blocked time, as a phrase. */
const OTHER_PHRASES: Record<string, string> = {
  timer: 'on a timer', lock: 'on a lock', poll: 'for a pipe or socket (poll)', stdin: 'for stdin', read: 'in read',
  network: 'on the network', child: 'for a child to exit',
};

function otherText(on: string | null): string {
  return on === null ? 'on something else' : OTHER_PHRASES[on] ?? `in ${on}`;
}

/** The server's fd report, for --summary: counts, then every fd it left open. */
export function formatFdReport(fds: FdReport): string {
  const out = [`server fds: ${fds.startCount} at start, ${fds.peakCount} at peak, ${fds.endCount} at the end`];
  if (fds.growth !== null) out[0] += `; it kept growing (${fds.growth.from} -> ${fds.growth.to} over ${fds.growth.rises} requests)`;
  for (const o of fds.stillOpen) {
    out.push(`  fd ${o.fd} ${o.path ?? '(no path)'} opened at ${o.atMs} ms${o.method !== null ? ` during ${o.method} ${String(o.id)}` : ''}, still open`);
  }
  return out.join('\n') + '\n';
}
