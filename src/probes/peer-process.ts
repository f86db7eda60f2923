// Finds the editor: the process holding the other end of lsptap's stdout (it reads what
// lsptap writes) and of lsptap's stdin (it writes what lsptap reads), through /proc.
// A pipe's two ends share one inode (`pipe:[N]` in /proc/PID/fd; a named pipe shows its
// path); a socketpair's ends
// have an inode each, so for a socket we ask sock_diag through `ss -xpn` (iproute2) which
// end is the peer and who holds it. Parents are looked at first: editors start lsptap.

import fs from 'node:fs';
import { execFileSync } from 'node:child_process';

export interface PeerEnd { pid: number; fd: number }

function linkOf(pid: number | 'self', fd: number): string | null {
  try { return fs.readlinkSync(`/proc/${pid}/fd/${fd}`); } catch { return null; }
}

function parentOf(pid: number): number | null {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'latin1');
    const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
    return ppid > 1 ? ppid : null;
  } catch { return null; }
}

/** Which way a pipe end moves bytes, from the access mode in /proc/PID/fdinfo/FD. */
type Access = 'read' | 'write';

function opensFor(pid: number, fd: number, access: Access): boolean {
  let info: string;
  try { info = fs.readFileSync(`/proc/${pid}/fdinfo/${fd}`, 'latin1'); } catch { return false; }
  const m = /^flags:\s+([0-7]+)/m.exec(info);
  if (m === null) return false;
  const mode = parseInt(m[1], 8) & 3; // O_ACCMODE: 0 read, 1 write, 2 both
  return mode === 2 || mode === (access === 'read' ? 0 : 1);
}

function fdsWith(pid: number, target: string, access: Access, exclude: { pid: number; fd: number }[]): PeerEnd[] {
  let names: string[];
  try { names = fs.readdirSync(`/proc/${pid}/fd`); } catch { return []; }
  const out: PeerEnd[] = [];
  for (const name of names) {
    const fd = Number(name);
    if (exclude.some((x) => x.pid === pid && x.fd === fd)) continue;
    // Both ends of a pipe show the same link: the access mode tells them apart.
    if (linkOf(pid, fd) === target && opensFor(pid, fd, access)) out.push({ pid, fd });
  }
  return out;
}

/** A named pipe: /proc shows its path, the same for both ends. */
function isFifo(target: string): boolean {
  try { return target.startsWith('/') && fs.statSync(target).isFIFO(); } catch { return false; }
}

function allPids(): number[] {
  return fs.readdirSync('/proc').filter((n) => /^\d+$/.test(n)).map(Number);
}

/** The peer of a unix socket inode, from `ss -xpn`; null when ss is missing or silent. */
function socketPeer(inode: number): PeerEnd | null {
  let out: string;
  try { out = execFileSync('ss', ['-xpnH'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'], timeout: 2000 }); } catch { return null; }
  // u_str ESTAB 0 0 * 16144 * 16145 users:(("node",pid=8554,fd=21))
  const rows = out.split('\n').map((line) => {
    const t = line.trim().split(/\s+/);
    const users = [...line.matchAll(/pid=(\d+),fd=(\d+)/g)].map((m) => ({ pid: Number(m[1]), fd: Number(m[2]) }));
    return { local: Number(t[5]), peer: Number(t[7]), users };
  });
  const mine = rows.find((r) => r.local === inode);
  const peerInode = mine !== undefined && mine.peer > 0 ? mine.peer : rows.find((r) => r.peer === inode)?.local;
  if (peerInode === undefined) return null;
  const peer = rows.find((r) => r.local === peerInode);
  return peer?.users[0] ?? null;
}

/** Who reads what lsptap writes to fd (its stdout): the editor's pid and fd, or null. */
export function findReaderOf(fd: number): PeerEnd | null { return findPeerOf(fd, 'read'); }

/** Who writes what lsptap reads from fd (its stdin): the editor's pid and fd, or null. */
export function findWriterOf(fd: number): PeerEnd | null { return findPeerOf(fd, 'write'); }

function findPeerOf(fd: number, access: Access): PeerEnd | null {
  const target = linkOf('self', fd);
  if (target === null) return null;
  const self = process.pid;
  const m = /^socket:\[(\d+)\]$/.exec(target);
  if (m !== null) return socketPeer(Number(m[1]));
  if (!target.startsWith('pipe:') && !isFifo(target)) return null; // a file or a tty: no pipe to time
  const exclude = [{ pid: self, fd }];
  for (let p = parentOf(self), hops = 0; p !== null && hops < 4; p = parentOf(p), hops++) {
    const found = fdsWith(p, target, access, exclude);
    if (found.length > 0) return found[0];
  }
  for (const pid of allPids()) {
    if (pid === self) continue;
    const found = fdsWith(pid, target, access, exclude);
    if (found.length > 0) return found[0];
  }
  return null;
}
