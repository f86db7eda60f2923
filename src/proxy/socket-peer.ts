// Who is at the other end of one of the relay's sockets, for `session start` (serverPid,
// clientPid) and for kernel timing (the peer's fd). The lookups themselves live in
// probes/peer-process.ts (one place for pipes, UNIX sockets and TCP); this adds what a
// live Node socket needs: its fd, and retries while the peer has not accepted yet.

import type { Socket } from 'node:net';
import { fdOf, socketInodeOf, peerCredPid, unixPeerEnd, tcpPeerEnd } from '../probes/peer-process';

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

const RETRIES = 20;
const RETRY_MS = 10;
const pause = (): Promise<void> => new Promise((r) => setTimeout(r, RETRY_MS));

/**
 * Who holds the other end. A connection can sit in the server's accept queue for a moment,
 * in no process's fd table yet, so a lookup that needs the peer's fd is retried for up to
 * ~200 ms. UNIX sockets without withPeerFd cost one getsockopt and no process scan.
 */
export async function findSocketPeer(socket: Socket, opts: { withPeerFd?: boolean } = {}): Promise<SocketPeer> {
  const tcp = socket.remoteAddress !== undefined;
  let peer = findSocketPeerNow(socket);
  for (let i = 0; i < RETRIES && peer.pid === null && tcp && !socket.destroyed; i++) {
    await pause();
    peer = findSocketPeerNow(socket);
  }
  if (!tcp && opts.withPeerFd === true && peer.pid !== null && peer.inode !== null) {
    const { pid, inode } = peer;
    let end = unixPeerEnd(inode, pid);
    for (let i = 0; i < RETRIES && end === null && !socket.destroyed; i++) {
      await pause(); // not accepted yet
      end = unixPeerEnd(inode, pid);
    }
    peer = { ...peer, peerFd: end?.fd ?? null };
  }
  return peer;
}

function findSocketPeerNow(socket: Socket): SocketPeer {
  const fd = fdOf(socket);
  if (fd === null) return { socket, fd, inode: null, pid: null, peerFd: null, via: 'no file descriptor' };
  const inode = socketInodeOf('self', fd);
  if (socket.remoteAddress === undefined) {
    const pid = peerCredPid(fd);
    return { socket, fd, inode, pid, peerFd: null, via: pid !== null ? 'SO_PEERCRED' : 'SO_PEERCRED unavailable' };
  }
  const end = socket.localAddress !== undefined && socket.localPort !== undefined && socket.remotePort !== undefined
    ? tcpPeerEnd({ address: socket.localAddress, port: socket.localPort }, { address: socket.remoteAddress, port: socket.remotePort })
    : null;
  return { socket, fd, inode, pid: end?.pid ?? null, peerFd: end?.fd ?? null, via: end !== null ? '/proc/net/tcp' : 'peer not on this machine or not visible' };
}
