// Kernel timing for people: one sentence per slow request saying what the server waited
// for (its children, the disk, something else) and how long it computed itself, and the
// server's fd report. Used by --summary (so the demo) and `lsptap report`.

import type { FdReport, KernelChild, KernelTiming } from '../model/record';

const ms = (us: number): string => (us < 10_000 ? (us / 1000).toFixed(1) : Math.round(us / 1000).toLocaleString('en-US'));
const count = (n: number): string => n.toLocaleString('en-US');
const mb = (bytes: number): string => (bytes < 10e6 ? (bytes / 1e6).toFixed(1) : Math.round(bytes / 1e6).toString());

/** Parts under this (µs) are left out of a sentence. */
const NOTABLE_US = 1000;

/** The server's name as the sentences say it (`gopls`): its command's program; null when not spawned by lsptap. */
export function serverNameOf(command: unknown): string | null {
  return Array.isArray(command) && typeof command[0] === 'string' ? command[0].split('/').pop() ?? null : null;
}

/** A child's name as people say it: `go list`, `compile`, `git status`. */
export function childName(c: KernelChild): string {
  const exe = (c.args[0] ?? c.path ?? c.comm).split('/').pop() ?? c.comm;
  const sub = c.args[1];
  return sub !== undefined && /^[a-z][a-z0-9-]*$/.test(sub) ? `${exe} ${sub}` : exe;
}

/** The children that took longest, by name: `go list`, `go list and 10 others`. */
function childrenText(children: KernelChild[]): string {
  if (children.length === 0) return 'its children';
  const longest = [...children].sort((a, b) => (b.wallUs ?? 0) - (a.wallUs ?? 0))[0];
  const others = children.length - 1;
  return others === 0 ? childName(longest) : `${childName(longest)} and ${others} other${others === 1 ? '' : 's'}`;
}

/**
 * `textDocument/documentSymbol 3027 ms: gopls waited 2135 ms for go list (2585 ms CPU),
 * 238 ms for the disk (7,072 reads, 82 MB); 751 ms on its own CPU`. Null when the record
 * has no server window.
 */
export function explainRequest(method: string, latencyMs: number, k: KernelTiming, server = 'the server'): string | null {
  if (typeof k.serverUs !== 'number' || typeof k.serverBlockedUs !== 'number') return null;
  const waits: string[] = [];
  if ((k.blockedOnChildUs ?? 0) >= NOTABLE_US) waits.push(`${ms(k.blockedOnChildUs!)} ms for ${childrenText(k.children ?? [])} (${ms(k.childCpuUs ?? 0)} ms CPU)`);
  if ((k.blockedOnDiskUs ?? 0) >= NOTABLE_US) waits.push(`${ms(k.blockedOnDiskUs!)} ms for the disk (${count(k.diskIos ?? 0)} reads, ${mb(k.diskIoBytes ?? 0)} MB)`);
  if ((k.blockedOtherUs ?? 0) >= NOTABLE_US) waits.push(`${ms(k.blockedOtherUs!)} ms ${otherText(k.blockedOtherOn ?? null)}`);
  const own = [`${ms(k.serverCpuUs ?? 0)} ms on its own CPU`];
  if ((k.serverRunqUs ?? 0) >= NOTABLE_US) own.push(`${ms(k.serverRunqUs!)} ms waiting for one`);
  const head = `${method} ${Math.round(latencyMs).toLocaleString('en-US')} ms: `;
  return waits.length === 0 ? `${head}${server} never waited; ${own.join(', ')}` : `${head}${server} waited ${waits.join(', ')}; ${own.join(', ')}`;
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
