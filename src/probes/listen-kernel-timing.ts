// Kernel timing for `lsptap --listen`: one probe set for the listening process, shared by
// every connection. Each connection's session registers its own streams (lsptap's two
// sockets, the daemon's fd for that connection, the editor's fd when it can be seen) and
// gets its own KernelStage; the shared rings are drained on one timer and each io event
// goes to the stage whose (pid, fd) it carries, so a session's `kernel` fields are joined
// by its own fds exactly as a stdio session's are. Tree records (snapshots, children)
// are the daemon's (one process tree for all connections) and go to every live stage:
// serverCpuUs, the blocked split and the children count all of the daemon's tree, as with
// --connect; each stage finds its own windows' snapshots by time.
//
// Entries in the BPF maps are counted: lsptap's and the daemon's pids are watched while any
// session uses them, and each session removes its fds when it stops (fds are reused).

import { watchStream, u32Key, readCounters, BpfLoadError } from './loader';
import { nativeCalls, bytesWaiting } from './native';
import { currentThreadId } from './thread-id';
import { KernelFeed, type KernelEventSink } from './kernel-feed';
import os from 'node:os';
import { watchedPids, type WatchedPids } from './watched-pids';
import { IO_COUNTERS, TREE_COUNTERS, WATCHED_FDS_MAX, WATCHED_PIDS_MAX, WatchedRole, type WatchedRoleValue } from './event-layout';
import { KernelStage, type StreamFds } from './kernel-stage';
import { TreeAccounting } from './tree-accounting';
import { socketInodeOf, unixPeerEnd } from './peer-process';
import type { ConnectionTarget } from '../bridge/protocol';
import { DRAIN_INTERVAL_MS, DEFAULT_HOLD_MS, type LoadedProbes } from './kernel-timing';
import type { KernelTiming, KernelLog } from '../model/stages';

/** One accepted connection: lsptap's fds and the processes (and their fds) at the far ends. */
export interface ConnectionEnds {
  clientFd: number;
  toServerFd: number;
  fromServerFd: number;
  serverPid: number;
  serverInFd: number;
  serverOutFd: number;
  editorPid: number | null;
  editorFdInPeer: number | null;
}


const fdKey = (pid: number, fd: number): Buffer => {
  const k = Buffer.alloc(8);
  k.writeUInt32LE(pid, 0);
  k.writeInt32LE(fd, 4);
  return k;
};

const PEER_RETRIES = 20;
const PEER_RETRY_MS = 10;

/** The fd a peer holds our UNIX socket on; retried while the daemon has not accepted yet (this thread only waits). */
function unixPeerFd(ourFd: number, pid: number): number | null {
  const inode = socketInodeOf('self', ourFd);
  if (inode === null) return null;
  for (let i = 0; ; i++) {
    const end = unixPeerEnd(inode, pid);
    if (end !== null || i >= PEER_RETRIES) return end?.fd ?? null;
    Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, PEER_RETRY_MS);
  }
}

/**
 * Fill in the peers' fds the relay thread left to us (UNIX sockets: sock_diag through ss,
 * too slow for the accept path). Throws BpfLoadError when the daemon's end is not found.
 */
export function resolveConnection(t: ConnectionTarget): ConnectionEnds {
  if (t.clientFd === null || t.toServerFd === null || t.fromServerFd === null || t.serverPid === null) throw new BpfLoadError('watch', 0, 'the server at the other end of the connection was not found', 'run lsptap as root or as the server\'s user');
  const serverPid = t.serverPid;
  const peerFd = (): number | null => unixPeerFd(t.toServerFd!, serverPid);
  const serverInFd = t.serverInFd ?? peerFd();
  const serverOutFd = t.serverOutFd ?? serverInFd;
  if (serverInFd === null || serverOutFd === null) throw new BpfLoadError('watch', 0, 'the daemon\'s fd for this connection was not found', 'run lsptap as root or as the daemon\'s user, with ss (iproute2) installed');
  const editorFdInPeer = t.clientPid === null ? null : t.clientPeerFd ?? unixPeerFd(t.clientFd, t.clientPid);
  return { clientFd: t.clientFd, toServerFd: t.toServerFd, fromServerFd: t.fromServerFd, serverPid, serverInFd, serverOutFd, editorPid: t.clientPid, editorFdInPeer };
}

export class ListenKernelTiming {
  /** Both rings, read for every connection's stage. */
  private readonly feed: KernelFeed;
  /** `${pid}:${fd}` -> the stage of the session that owns that stream. */
  private readonly routes = new Map<string, KernelStage>();
  private readonly stages = new Set<KernelStage>();
  /** Map entries in use, counted: `${map}:${key hex}` -> users. */
  private readonly refs = new Map<string, number>();
  private readonly timer: NodeJS.Timeout;
  private strays = 0;
  /** The analysis thread, where the listener runs: its own files' syscalls are no connection's (StreamFds.analysisTid). */
  private readonly analysisTid = currentThreadId();
  /** Kernel drops already handed to some session's kernelDrops(), so metrics count each once. */
  private dropsReported = 0;
  private closed = false;
  private readonly pids: WatchedPids;

  constructor(private readonly probes: LoadedProbes, private readonly holdMs = DEFAULT_HOLD_MS) {
    this.feed = new KernelFeed(probes.bpf, undefined);
    this.pids = watchedPids(probes.bpf);
    this.timer = setInterval(() => {
      this.drain();
      for (const s of this.stages) if (s.heldCount > 0) s.pump(false);
    }, DRAIN_INTERVAL_MS);
    this.timer.unref();
  }

  /** Tree records go to every stage (each finds its own server's); io events to the stage owning their stream. */
  private readonly sink: KernelEventSink = {
    onTree: (e) => { for (const s of this.stages) s.onTree(e); },
    onIo: (e) => {
      if (e.tid === this.analysisTid && e.pid === process.pid) return;
      const s = this.routes.get(`${e.pid}:${e.fd}`);
      if (s === undefined) this.strays++;
      else s.onIo(e);
    },
    onTreeLost: (afterNs) => { for (const s of this.stages) s.onTreeLost(afterNs); },
  };

  readonly drain = (): number => (this.closed ? 0 : this.feed.drain(this.sink));

  private use(fd: number, key: Buffer, value: WatchedRoleValue | 'stream'): void {
    const id = `${fd}:${key.toString('hex')}`;
    const n = this.refs.get(id) ?? 0;
    // A stream's (pid, fd) is always entered afresh: the kernel takes it out when the fd is
    // closed (bpf/io.bpf.c), and a new connection may get the number before the old
    // session let go of it.
    if (value === 'stream') watchStream(fd, key);
    else if (n === 0) this.pids.put(key.readUInt32LE(0), value);
    this.refs.set(id, n + 1);
  }

  private release(fd: number, key: Buffer, value: WatchedRoleValue | 'stream'): void {
    const id = `${fd}:${key.toString('hex')}`;
    const n = this.refs.get(id) ?? 0;
    if (n > 1) { this.refs.set(id, n - 1); return; }
    this.refs.delete(id);
    if (value === 'stream') nativeCalls().bpf_map_delete_elem(fd, key);
    else this.pids.delete(key.readUInt32LE(0));
  }

  /** Start timing one connection; throws BpfLoadError when its entries do not fit the maps. */
  attach(ends: ConnectionEnds, log: KernelLog): KernelTiming {
    if (this.closed) throw new BpfLoadError('watch', 0, 'the listener is stopping', 'none needed');
    const fds: StreamFds = {
      lsptapPid: process.pid, analysisTid: this.analysisTid, serverPid: ends.serverPid, editorPid: ends.editorFdInPeer === null ? null : ends.editorPid,
      lsptapIn: ends.clientFd, lsptapOut: ends.clientFd, lsptapToServer: ends.toServerFd, lsptapFromServer: ends.fromServerFd,
      serverIn: ends.serverInFd, serverOut: ends.serverOutFd, editorIn: ends.editorFdInPeer,
      // The editor reads and writes one socket.
      editorWriterPid: ends.editorFdInPeer === null ? null : ends.editorPid, editorOut: ends.editorFdInPeer,
    };
    const ioPids = this.probes.bpf.mapFd('watched_pids');
    const ioFds = this.probes.bpf.mapFd('watched_fds');
    // fds first, pids last (a watched pid turns tracing on); undone in reverse on stop or failure.
    // One entry per distinct (pid, fd): a socket is read and written on one fd.
    const streams = [...new Set([`${fds.lsptapPid}:${ends.clientFd}`, `${fds.lsptapPid}:${ends.toServerFd}`, `${fds.lsptapPid}:${ends.fromServerFd}`, `${fds.serverPid}:${ends.serverInFd}`, `${fds.serverPid}:${ends.serverOutFd}`])];
    // A stream's value is its byte counts, from zero (watchStream); a pid's, its role.
    const entries: Array<{ fd: number; key: Buffer; value: WatchedRoleValue | 'stream' }> = [
      ...streams.map((k) => { const [pid, fd] = k.split(':').map(Number); return { fd: ioFds, key: fdKey(pid, fd), value: 'stream' as const }; }),
      ...(fds.editorPid !== null && fds.editorIn !== null ? [{ fd: ioFds, key: fdKey(fds.editorPid, fds.editorIn), value: 'stream' as const }] : []),
      { fd: ioPids, key: u32Key(fds.lsptapPid), value: WatchedRole.lsptap },
      ...(fds.editorPid !== null ? [{ fd: ioPids, key: u32Key(fds.editorPid), value: WatchedRole.editor }] : []),
      // The daemon last: from here on its forks join the tree (watched_pids is shared with it).
      { fd: ioPids, key: u32Key(fds.serverPid), value: WatchedRole.server },
    ];
    const done: typeof entries = [];
    try {
      for (const e of entries) { this.use(e.fd, e.key, e.value); done.push(e); }
    } catch (err) {
      for (const e of done.reverse()) this.release(e.fd, e.key, e.value);
      if (err instanceof BpfLoadError && err.errno === os.constants.errno.E2BIG) {
        throw new BpfLoadError('watch', err.errno,
          `the kernel maps are full with ${this.stages.size} sessions kernel-timed at once (watched_fds holds ${WATCHED_FDS_MAX} streams, up to 6 a session; watched_pids ${WATCHED_PIDS_MAX} processes)`,
          'this session runs without kernel timing; end other sessions, or raise WATCHED_FDS_MAX and WATCHED_PIDS_MAX in bpf/common.bpf.h and src/probes/event-layout.ts and rebuild (npm run build)');
      }
      throw err;
    }
    if (fds.editorOut != null) {
      // What the editor wrote before we watched waits unread in our socket (the relay reads
      // nothing before the session is ready): count it as kernel-timing.ts does for stdin.
      const bytes = bytesWaiting(ends.clientFd);
      if (bytes === null) fds.editorOut = null;
      else fds.editorOutBefore = { bytes, untilNs: Number(process.hrtime.bigint()) };
    }
    // The shared rings feed every stage: draining for one drains for all.
    const stage = new KernelStage(fds, this.holdMs, { drain: () => this.drain() }, new TreeAccounting(fds.serverPid, 0, Number(process.hrtime.bigint())));
    const keys = [...streams];
    if (fds.editorPid !== null && fds.editorIn !== null) keys.push(`${fds.editorPid}:${fds.editorIn}`);
    for (const k of keys) this.routes.set(k, stage);
    this.stages.add(stage);

    let stopped = false;
    let myDrops = 0;
    return {
      stage,
      extraStart: {
        kernel: {
          loadMs: Math.round(this.probes.loadMs * 10) / 10, loader: this.probes.bpf.loader, shared: true,
          editorPid: fds.editorPid, editorFd: fds.editorIn, serverFds: [ends.serverInFd, ends.serverOutFd],
          lsptapFds: { clientIn: ends.clientFd, clientOut: ends.clientFd, toServer: ends.toServerFd, fromServer: ends.fromServerFd },
        },
      },
      kernelDrops: () => {
        // The counters are the listener's: hand each new drop to exactly one session.
        if (!stopped && !this.closed) { const total = this.totalDrops(); myDrops += total - this.dropsReported; this.dropsReported = total; }
        return myDrops;
      },
      stop: async () => {
        if (stopped) return {};
        stopped = true;
        this.drain();
        await stage.flush();
        this.stages.delete(stage);
        for (const k of keys) if (this.routes.get(k) === stage) this.routes.delete(k);
        for (const e of [...entries].reverse()) this.release(e.fd, e.key, e.value);
        const io = readCounters(this.probes.bpf.mapFd('io_counters'), IO_COUNTERS.length);
        const sc = readCounters(this.probes.bpf.mapFd('tree_counters'), TREE_COUNTERS.length);
        if (io[1] + io[2] + sc[1] > 0) log.warn('kernel timing lost events', { ioDrops: io[1] + io[2], treeDrops: sc[1], hint: 'the shared ring buffers filled faster than lsptap drained them (counted since the listener started); affected fields may be null or off' });
        return {
          kernel: {
            // This session's own events; the counters are the listener's, since it started.
            ioEvents: stage.ioEvents, strayEvents: stage.strayEvents, shared: true,
            listenerIoEvents: io[0], ioDrops: io[1] + io[2], listenerTreeEvents: sc[0], treeDrops: sc[1],
            listenerDrains: this.feed.drains, listenerDrainMs: Math.round(this.feed.drainNs / 1e4) / 100, listenerStrayEvents: this.strays,
          },
        };
      },
    };
  }

  private totalDrops(): number {
    const io = readCounters(this.probes.bpf.mapFd('io_counters'), IO_COUNTERS.length);
    const sc = readCounters(this.probes.bpf.mapFd('tree_counters'), TREE_COUNTERS.length);
    return io[1] + io[2] + sc[1];
  }

  /** Stop the timer and release the probes; sessions still open keep what they had. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    clearInterval(this.timer);
    this.feed.close();
    this.probes.close();
  }
}
