// The bytes waiting in each pipe or socket between lsptap and its peers, read on the relay
// thread at a cut (relay-session.ts) while it runs JavaScript, so that none of lsptap's own
// reads or writes is half done: with lsptap's counts they say how far each peer had read or
// written (kernel-timing.ts). What waits to be read on lsptap's side is FIONREAD on its end.
// What waits on the peer's side is FIONREAD on either end of a pipe; but on a socket
// FIONREAD counts only our own receive queue, so the peer's is asked of the kernel by inode
// (sock_diag, ss's Recv-Q). Node spawns a server on socketpairs, not pipes: FIONREAD on
// lsptap's end of the server's stdin (always 0) joined a slow-starting server's messages
// (bash-language-server, pylsp) to other messages' reads.

import fs from 'node:fs';
import { bytesWaiting, unixPeerInode, unixReceiveQueue } from './native';
import type { StreamsWaiting, Waiting } from '../model/stages';

export interface StreamFdsAtCut { fromEditor: number; toEditor: number; toServer: number; fromServer: number }

/**
 * Reads the four queues, each bracketed by the hrtimes around its call. The peers' sockets
 * are looked up on the first call (a sock_diag request each), before any queue is read.
 */
export function queueSampler(fds: StreamFdsAtCut): () => StreamsWaiting {
  let toEditor: (() => number | null) | null = null;
  let toServer: (() => number | null) | null = null;
  return () => {
    toEditor ??= unreadByPeer(fds.toEditor);
    toServer ??= unreadByPeer(fds.toServer);
    return {
      fromEditor: timed(() => bytesWaiting(fds.fromEditor)), toEditor: timed(toEditor),
      toServer: timed(toServer), fromServer: timed(() => bytesWaiting(fds.fromServer)),
    };
  };
}

/** What lsptap wrote into fd and its peer has not read yet: a reader made once per fd, answering null when unknown. */
export function unreadByPeer(fd: number): () => number | null {
  let stat: fs.Stats;
  try { stat = fs.fstatSync(fd); } catch { return () => null; }
  if (stat.isFIFO()) return () => bytesWaiting(fd);
  if (!stat.isSocket()) return () => null;
  const peer = unixPeerInode(stat.ino);
  return peer === null ? () => null : () => unixReceiveQueue(peer);
}

function timed(read: () => number | null): Waiting | null {
  const fromNs = Number(process.hrtime.bigint());
  const bytes = read();
  const toNs = Number(process.hrtime.bigint());
  return bytes === null ? null : { bytes, fromNs, toNs };
}
