// Who holds the other end of one of lsptap's fds: the one place that answers it, for every
// transport. Kernel timing needs the peer's pid and fd (to watch its reads and writes); the
// `session start` line needs the pid.
// - A pipe: both ends share one inode (`pipe:[N]` in /proc/PID/fd; a named pipe shows its
//   path), so the peer is the other process holding it open the other way (the access mode
//   in /proc/PID/fdinfo tells the ends apart); parents are looked at first (editors start
//   lsptap). findStdioPeers() names the editor reading our stdout and the one writing our
//   stdin.
// - A UNIX socket: getsockopt(SO_PEERCRED) names the pid exactly (native.ts); the two ends
//   have an inode each, and sock_diag says which inode is the peer (native.ts asks it
//   directly), so /proc/PID/fd of that pid gives the fd. Otherwise `ss -xpnH` (iproute2,
//   sock_diag plus every process's fds) says who holds the peer.
// - Local TCP: the /proc/net/tcp{,6} row with our two ends swapped names the peer inode,
//   and /proc/*/fd the process holding it.
// Lookups run once per connection, never per message, and never throw: null when unknown.

import fs from 'node:fs';
import { execFileSync } from 'node:child_process';
import { peerCredPid, unixPeerInode } from './native';

export { peerCredPid };

export interface PeerEnd { pid: number; fd: number }

/** The fd of a Node stream or socket (its libuv handle), or null when it has none. */
export function fdOf(stream: unknown): number | null {
  const fd = (stream as { _handle?: { fd?: unknown } } | null)?._handle?.fd;
  return typeof fd === 'number' && fd >= 0 ? fd : null;
}

function linkOf(pid: number | 'self', fd: number): string | null {
  try { return fs.readlinkSync(`/proc/${pid}/fd/${fd}`); } catch { return null; }
}

/** The inode of the socket at fd in process pid. */
export function socketInodeOf(pid: number | 'self', fd: number): number | null {
  const m = /^socket:\[(\d+)\]$/.exec(linkOf(pid, fd) ?? '');
  return m === null ? null : Number(m[1]);
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

/** The fds of pid whose /proc link is target (and, for a pipe, open for `access`). */
function fdsWith(pid: number, target: string, access: Access | null): PeerEnd[] {
  let names: string[];
  try { names = fs.readdirSync(`/proc/${pid}/fd`); } catch { return []; }
  const out: PeerEnd[] = [];
  for (const name of names) {
    const fd = Number(name);
    // Both ends of a pipe show the same link: the access mode tells them apart.
    if (linkOf(pid, fd) === target && (access === null || opensFor(pid, fd, access))) out.push({ pid, fd });
  }
  return out;
}

function allPids(): number[] {
  try { return fs.readdirSync('/proc').filter((n) => /^\d+$/.test(n)).map(Number); } catch { return []; }
}

/** Every descendant of pid alive now (children, theirs, ...), from one pass over /proc. */
export function descendantsOf(pid: number): number[] {
  const children = new Map<number, number[]>();
  for (const p of allPids()) {
    const parent = parentOf(p);
    if (parent === null) continue;
    const list = children.get(parent);
    if (list === undefined) children.set(parent, [p]); else list.push(p);
  }
  const out: number[] = [];
  for (let i = -1; i < out.length; i++) out.push(...(children.get(i < 0 ? pid : out[i]) ?? []));
  return out;
}

/** What /proc says of a running process, as an exec record would have: for descendants that existed before watching began. */
export interface RunningProcess { pid: number; ppid: number; comm: string; path: string; args: string[]; startNs: number }

/** USER_HZ, the unit of /proc/PID/stat's starttime: 100 on every architecture lsptap runs on. */
const USER_HZ = 100;

/**
 * pid's parent, name, executable, arguments (at most argsBytes of them, as the kernel copies
 * at exec) and start as an hrtime (from its boot-time start in 10 ms ticks: to 10 ms, and
 * off by any time the machine spent suspended since); null when it is gone.
 */
export function runningProcess(pid: number, argsBytes: number): RunningProcess | null {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'latin1');
    const close = stat.lastIndexOf(')');
    const rest = stat.slice(close + 2).split(' ');
    const comm = stat.slice(stat.indexOf('(') + 1, close);
    const uptimeS = Number(fs.readFileSync('/proc/uptime', 'latin1').split(' ')[0]);
    const startNs = Number(process.hrtime.bigint()) - Math.max(0, uptimeS - Number(rest[19]) / USER_HZ) * 1e9;
    let path = '';
    try { path = fs.readlinkSync(`/proc/${pid}/exe`); } catch { /* a kernel thread, or no permission */ }
    const raw = fs.readFileSync(`/proc/${pid}/cmdline`).subarray(0, argsBytes).toString('utf8');
    const args = raw.length === 0 ? [] : raw.replace(/\0$/, '').split('\0');
    return { pid, ppid: Number(rest[1]), comm, path, args, startNs };
  } catch {
    return null;
  }
}

/**
 * The threads of these processes asleep in an interruptible wait now (state S in
 * /proc/PID/task/TID/stat): a thread asleep in a read has copied nothing of it yet.
 */
export function threadsAsleep(pids: readonly (number | null)[]): Set<number> {
  const asleep = new Set<number>();
  for (const pid of pids) {
    if (pid === null) continue;
    let tids: string[];
    try { tids = fs.readdirSync(`/proc/${pid}/task`); } catch { continue; }
    for (const tid of tids) {
      let stat: string;
      try { stat = fs.readFileSync(`/proc/${pid}/task/${tid}/stat`, 'latin1'); } catch { continue; }
      if (stat.charAt(stat.lastIndexOf(')') + 2) === 'S') asleep.add(Number(tid));
    }
  }
  return asleep;
}

/** The first process holding target: lsptap's parents first when asked (an editor starts lsptap), then all but lsptap. */
function holderOf(target: string, parentsFirst: boolean, access: Access | null): PeerEnd | null {
  const self = process.pid;
  if (parentsFirst) {
    for (let p = parentOf(self), hops = 0; p !== null && hops < 4; p = parentOf(p), hops++) {
      const found = fdsWith(p, target, access);
      if (found.length > 0) return found[0];
    }
  }
  for (const pid of allPids()) {
    if (pid === self) continue;
    const found = fdsWith(pid, target, access);
    if (found.length > 0) return found[0];
  }
  return null;
}

/** A named pipe: /proc shows its path, the same for both ends. */
function isFifo(target: string): boolean {
  try { return target.startsWith('/') && fs.statSync(target).isFIFO(); } catch { return false; }
}

interface UnixRow { local: number; peer: number; users: PeerEnd[] }

/** Every UNIX stream socket sock_diag reports, with its holders when visible; [] without ss. */
function unixSockets(): UnixRow[] {
  let out: string;
  try { out = execFileSync('ss', ['-xpnH'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'], timeout: 2000 }); } catch { return []; }
  // u_str ESTAB 0 0 * 16144 * 16145 users:(("node",pid=8554,fd=21))
  return out.split('\n').map((line) => {
    const t = line.trim().split(/\s+/);
    const users = [...line.matchAll(/pid=(\d+),fd=(\d+)/g)].map((m) => ({ pid: Number(m[1]), fd: Number(m[2]) }));
    return { local: Number(t[5]), peer: Number(t[7]), users };
  });
}

/**
 * The process and fd holding the other end of the UNIX socket with this inode. knownPid
 * (from SO_PEERCRED) picks among several holders, and is searched directly when ss may not
 * show another user's processes.
 */
export function unixPeerEnd(inode: number, knownPid: number | null = null, table: () => UnixRow[] = unixSockets): PeerEnd | null {
  // The kernel names the peer socket (sock_diag) and SO_PEERCRED its process: then only that
  // process's fds are read. `ss -xp` reads every process's (and a run cost lsptap 2-4 ms of
  // CPU): it stays for when either is unknown, or that process no longer holds the socket.
  if (knownPid !== null) {
    const peer = unixPeerInode(inode);
    const held = peer === null ? undefined : fdsWith(knownPid, `socket:[${peer}]`, null)[0];
    if (held !== undefined) return held;
  }
  const rows = table();
  const mine = rows.find((r) => r.local === inode);
  const peerInode = mine !== undefined && mine.peer > 0 ? mine.peer : rows.find((r) => r.peer === inode)?.local;
  if (peerInode === undefined || peerInode === 0) return null;
  const users = rows.find((r) => r.local === peerInode)?.users ?? [];
  const chosen = users.find((u) => u.pid === knownPid) ?? users[0];
  if (chosen !== undefined) return chosen;
  return knownPid === null ? null : fdsWith(knownPid, `socket:[${peerInode}]`, null)[0] ?? null;
}

/** /proc/net/tcp spells an endpoint as hex ADDR:PORT, the address in host byte order. */
function procTcpEndpoint(address: string, port: number): string | null {
  const p = port.toString(16).toUpperCase().padStart(4, '0');
  const v4 = /^(?:::ffff:)?(\d+)\.(\d+)\.(\d+)\.(\d+)$/.exec(address);
  if (v4 === null) return null;
  const b = v4.slice(1, 5).map(Number);
  const le = ((b[3] << 24) | (b[2] << 16) | (b[1] << 8) | b[0]) >>> 0;
  return `${le.toString(16).toUpperCase().padStart(8, '0')}:${p}`;
}

/** The process and fd holding the other end of a local IPv4 TCP connection. */
export function tcpPeerEnd(local: { address: string; port: number }, remote: { address: string; port: number }): PeerEnd | null {
  const loc = procTcpEndpoint(local.address, local.port);
  const rem = procTcpEndpoint(remote.address, remote.port);
  if (loc === null || rem === null) return null;
  let peerInode: number | null = null;
  for (const table of ['/proc/net/tcp', '/proc/net/tcp6']) {
    let text: string;
    try { text = fs.readFileSync(table, 'latin1'); } catch { continue; }
    for (const line of text.split('\n').slice(1)) {
      const f = line.trim().split(/\s+/);
      if (f.length < 10) continue;
      const a = f[1].length > 13 ? f[1].slice(-13) : f[1]; // v4-mapped rows in tcp6
      const b = f[2].length > 13 ? f[2].slice(-13) : f[2];
      if (a === rem && b === loc) { peerInode = Number(f[9]); break; }
    }
    if (peerInode !== null) break;
  }
  if (peerInode === null || peerInode === 0) return null;
  return holderOf(`socket:[${peerInode}]`, false, null);
}

/**
 * The editor at both ends of lsptap's stdio: who reads its stdout (fd 1) and who writes its
 * stdin (fd 0). Editors started from Node (VS Code) hand over UNIX socket pairs: each is
 * looked up through sock_diag (unixPeerEnd); when `ss` is needed, one run serves both.
 */
export function findStdioPeers(): { reader: PeerEnd | null; writer: PeerEnd | null } {
  let rows: UnixRow[] | null = null;
  const table = (): UnixRow[] => (rows ??= unixSockets());
  return { reader: findPeerOf(1, 'read', table), writer: findPeerOf(0, 'write', table) };
}

function findPeerOf(fd: number, access: Access, table: () => UnixRow[]): PeerEnd | null {
  const target = linkOf('self', fd);
  if (target === null) return null;
  const inode = socketInodeOf('self', fd);
  if (inode !== null) return unixPeerEnd(inode, peerCredPid(fd), table);
  if (!target.startsWith('pipe:') && !isFifo(target)) return null; // a file or a tty: no pipe to time
  return holderOf(target, true, access);
}
