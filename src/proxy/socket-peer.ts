// Who is at the other end of a socket, so kernel timing (issue 4) can watch the server
// process in socket mode as it watches a child in stdio mode.
// - UNIX sockets: getsockopt(SO_PEERCRED) through ffi-rs: the pid that called listen() (for
//   a connection we made) or connect() (for one we accepted), exactly, from the kernel.
// - TCP on this machine: /proc/net/tcp{,6} names the peer socket's inode (the row whose
//   local and remote ends are ours swapped); /proc/PID/fd finds the process holding it.
// - The peer's fd of a UNIX socket (for kernel timing only, on request): sock_diag through
//   `ss -xpnH` (iproute2) names the peer inode; /proc/PID/fd of the SO_PEERCRED pid holds it.
// Lookups run once per connection, never per message, and never throw: null when unknown.

import fs from 'node:fs';
import { execFileSync } from 'node:child_process';
import type { Socket } from 'node:net';

export interface SocketPeer {
  socket: Socket;
  /** Our socket's file descriptor and inode. */
  fd: number | null;
  inode: number | null;
  /** The process at the other end, when it could be found. */
  pid: number | null;
  /** The peer's fd for that socket (TCP; UNIX when asked for with withPeerFd). */
  peerFd: number | null;
  /** How pid was found ('SO_PEERCRED', '/proc/net/tcp') or why not. */
  via: string;
}

const SOL_SOCKET = 1;
const SO_PEERCRED = 17; // Linux, all architectures lsptap runs on (x86-64, arm64)

type Ffi = typeof import('ffi-rs');
let ffi: Ffi | null | undefined;

function loadFfi(): Ffi | null {
  if (ffi !== undefined) return ffi;
  try {
    ffi = require('ffi-rs') as Ffi;
    ffi.open({ library: 'libc', path: '' });
  } catch {
    ffi = null;
  }
  return ffi;
}

function fdOf(socket: Socket): number | null {
  const fd = (socket as unknown as { _handle?: { fd?: number } })._handle?.fd;
  return typeof fd === 'number' && fd >= 0 ? fd : null;
}

function inodeOfFd(pid: number | 'self', fd: number): number | null {
  try {
    const m = /^socket:\[(\d+)\]$/.exec(fs.readlinkSync(`/proc/${pid}/fd/${fd}`));
    return m === null ? null : Number(m[1]);
  } catch {
    return null;
  }
}

function peerCredPid(fd: number): number | null {
  const f = loadFfi();
  if (f === null) return null;
  try {
    const shape = { pid: f.DataType.I32, uid: f.DataType.I32, gid: f.DataType.I32 };
    const cred = f.createPointer({ paramsType: [shape], paramsValue: [{ pid: 0, uid: 0, gid: 0 }] });
    const len = f.createPointer({ paramsType: [f.DataType.I32], paramsValue: [12] });
    const rc = f.load({
      library: 'libc', funcName: 'getsockopt', retType: f.DataType.I32,
      paramsType: [f.DataType.I32, f.DataType.I32, f.DataType.I32, f.DataType.External, f.DataType.External],
      paramsValue: [fd, SOL_SOCKET, SO_PEERCRED, f.unwrapPointer(cred)[0], len[0]],
    }) as number;
    if (rc !== 0) return null;
    const [v] = f.restorePointer({ retType: [shape], paramsValue: cred }) as Array<{ pid: number }>;
    return v.pid > 0 ? v.pid : null;
  } catch {
    return null;
  }
}

/** /proc/net/tcp spells an endpoint as hex ADDR:PORT in host byte order words. */
function procTcpEndpoint(address: string, port: number): string | null {
  const p = port.toString(16).toUpperCase().padStart(4, '0');
  const v4 = /^(?:::ffff:)?(\d+)\.(\d+)\.(\d+)\.(\d+)$/.exec(address);
  if (v4 !== null) {
    const b = v4.slice(1, 5).map(Number);
    const le = ((b[3] << 24) | (b[2] << 16) | (b[1] << 8) | b[0]) >>> 0;
    return `${le.toString(16).toUpperCase().padStart(8, '0')}:${p}`;
  }
  return null;
}

function findTcpPeer(socket: Socket): { pid: number | null; peerFd: number | null } {
  const local = socket.localAddress && socket.localPort ? procTcpEndpoint(socket.localAddress, socket.localPort) : null;
  const remote = socket.remoteAddress && socket.remotePort ? procTcpEndpoint(socket.remoteAddress, socket.remotePort) : null;
  if (local === null || remote === null) return { pid: null, peerFd: null };
  let peerInode: number | null = null;
  for (const table of ['/proc/net/tcp', '/proc/net/tcp6']) {
    let text: string;
    try { text = fs.readFileSync(table, 'latin1'); } catch { continue; }
    for (const line of text.split('\n').slice(1)) {
      const f = line.trim().split(/\s+/);
      if (f.length < 10) continue;
      const loc = f[1].length > 13 ? `${f[1].slice(-13)}` : f[1]; // v4-mapped rows in tcp6
      const rem = f[2].length > 13 ? `${f[2].slice(-13)}` : f[2];
      if (loc === remote && rem === local) { peerInode = Number(f[9]); break; }
    }
    if (peerInode !== null) break;
  }
  if (peerInode === null || peerInode === 0) return { pid: null, peerFd: null };
  const want = `socket:[${peerInode}]`;
  for (const name of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    let fds: string[];
    try { fds = fs.readdirSync(`/proc/${name}/fd`); } catch { continue; }
    for (const fd of fds) {
      try { if (fs.readlinkSync(`/proc/${name}/fd/${fd}`) === want) return { pid: Number(name), peerFd: Number(fd) }; } catch { /* gone */ }
    }
  }
  return { pid: null, peerFd: null };
}

/** The fd in process pid that holds the other end of our UNIX socket inode. */
function unixPeerFd(inode: number, pid: number): number | null {
  let out: string;
  try { out = execFileSync('ss', ['-xnH'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'], timeout: 2000 }); } catch { return null; }
  let peerInode: number | null = null;
  for (const line of out.split('\n')) {
    const t = line.trim().split(/\s+/); // u_str ESTAB 0 0 LOCAL-ADDR INODE PEER-ADDR PEER-INODE
    if (t.length >= 8 && Number(t[5]) === inode) { peerInode = Number(t[7]); break; }
  }
  if (peerInode === null || peerInode === 0) return null;
  const want = `socket:[${peerInode}]`;
  let fds: string[];
  try { fds = fs.readdirSync(`/proc/${pid}/fd`); } catch { return null; }
  for (const fd of fds) {
    try { if (fs.readlinkSync(`/proc/${pid}/fd/${fd}`) === want) return Number(fd); } catch { /* closed meanwhile */ }
  }
  return null;
}

/**
 * Who holds the other end. A TCP connection can sit in the server's accept queue for a
 * moment, in no process's fd table yet, so a TCP lookup is retried for up to ~200 ms.
 */
export async function findSocketPeer(socket: Socket, opts: { withPeerFd?: boolean } = {}): Promise<SocketPeer> {
  const tcp = socket.remoteAddress !== undefined;
  let peer = findSocketPeerNow(socket);
  for (let i = 0; i < 20 && peer.pid === null && tcp && !socket.destroyed; i++) {
    await new Promise((r) => setTimeout(r, 10));
    peer = findSocketPeerNow(socket);
  }
  if (!tcp && opts.withPeerFd === true && peer.pid !== null && peer.inode !== null) {
    const { pid, inode } = peer;
    let peerFd = unixPeerFd(inode, pid);
    for (let i = 0; i < 20 && peerFd === null && !socket.destroyed; i++) {
      await new Promise((r) => setTimeout(r, 10)); // not accepted yet
      peerFd = unixPeerFd(inode, pid);
    }
    peer = { ...peer, peerFd };
  }
  return peer;
}

function findSocketPeerNow(socket: Socket): SocketPeer {
  const fd = fdOf(socket);
  const inode = fd === null ? null : inodeOfFd('self', fd);
  if (fd === null) return { socket, fd, inode, pid: null, peerFd: null, via: 'no file descriptor' };
  if (socket.remoteAddress === undefined) {
    const pid = peerCredPid(fd);
    return { socket, fd, inode, pid, peerFd: null, via: pid !== null ? 'SO_PEERCRED' : 'SO_PEERCRED unavailable' };
  }
  const { pid, peerFd } = findTcpPeer(socket);
  return { socket, fd, inode, pid, peerFd, via: pid !== null ? '/proc/net/tcp' : 'peer not on this machine or not visible' };
}
