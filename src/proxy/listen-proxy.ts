// `lsptap --listen ADDR --connect DAEMON`: sits in front of a shared server (the gopls
// daemon). Every accepted connection gets its own connection to the daemon and is its own
// session (with `--listen ADDR -- COMMAND`, its own server process instead): its own id on every log line, its own summary and `session end`, all on one log.
// Editors keep starting `gopls -remote='unix;ADDR'`; the forwarder's gopls/handshake is
// relayed untouched like any other message. With kernel timing, one probe set serves every
// connection and each session is joined by its own fds (probes/listen-kernel-timing.ts).
//
// A UNIX socket lsptap creates is 0600 (made under umask 0177, then checked) and removed on
// exit; an existing path is refused with a sentence, never unlinked. SIGINT/SIGTERM/SIGHUP
// stop listening, close every live session (their `session end` lines are written) and exit 0.

import { newSessionId } from '../model/session-id';
import fs from 'node:fs';
import net from 'node:net';
import { runRelaySession, sessionStartFields, sessionClock } from './relay-session';
import { SocketServerLink, spawnServer, type ServerLink } from './server-link';
import { fdOf } from '../probes/peer-process';
import { AddressError, connectTo, formatAddress, type SocketAddress } from './address';
import { findSocketPeer } from './socket-peer';
import { exitOnInternalError } from './stdio-proxy';
import { writeStderr } from './stderr';
import type { AnalysisLink, LineLog } from './worker/analysis-link';
import type { ConnectionTarget, KernelTarget } from '../bridge/protocol';

/** Where to accept: an address lsptap binds, or a socket inherited from systemd (sd_listen_fds). */
export type ListenTarget = SocketAddress | { kind: 'inherited'; fd: number };

/** The first socket systemd (or systemd-socket-activate) passed: LISTEN_PID is us, LISTEN_FDS >= 1, fds from 3. */
export function inheritedSocket(env: NodeJS.ProcessEnv = process.env): ListenTarget {
  const pid = Number(env.LISTEN_PID);
  const count = Number(env.LISTEN_FDS);
  if (env.LISTEN_PID === undefined || env.LISTEN_FDS === undefined) throw new AddressError('lsptap: --listen systemd: no socket was passed (LISTEN_FDS and LISTEN_PID are not set); start lsptap from a systemd .socket unit or systemd-socket-activate');
  if (pid !== process.pid) throw new AddressError(`lsptap: --listen systemd: the sockets were passed to process ${env.LISTEN_PID}, not to this one (${process.pid}); start lsptap directly from the unit, not through a shell that forks`);
  if (!(count >= 1)) throw new AddressError(`lsptap: --listen systemd: LISTEN_FDS is ${JSON.stringify(env.LISTEN_FDS)}; the unit must pass one listening socket`);
  // As sd_listen_fds(1): the variables are for us, not for servers we start.
  delete env.LISTEN_PID; delete env.LISTEN_FDS; delete env.LISTEN_FDNAMES;
  return { kind: 'inherited', fd: 3 };
}

function describeTarget(t: ListenTarget): string {
  return t.kind === 'inherited' ? `systemd:fd${t.fd}` : formatAddress(t);
}

export interface ListenProxyOptions {
  listen: ListenTarget;
  /** Where each connection goes: the daemon at an address, or its own server process. */
  server: UpstreamSpec;
  /** The analysis thread, started, with its log open. */
  link: AnalysisLink;
  logPath: string | null;
  retainBodyMax: number;
  printSummary: boolean;
  graceMs: number;
  /** Extra fields for the first connection's `session start` (what retention did when the listener started). */
  firstStart?: Record<string, unknown>;
}

export type UpstreamSpec =
  | { kind: 'connect'; address: SocketAddress }
  | { kind: 'command'; command: string[] };

interface OpenedServer {
  link: ServerLink;
  /** The server side of the kernel-timing target. */
  target: Pick<ConnectionTarget, 'toServerFd' | 'fromServerFd' | 'serverPid' | 'serverInFd' | 'serverOutFd'>;
  /** The socket to the daemon (closed by force at shutdown), or null for a child. */
  socket: net.Socket | null;
  /** Undo: the client left before the session began. */
  abandon(): void;
}

/** This connection's server: a new connection to the daemon, or a server process of its own. null: failed (said on stderr and in the log). */
async function openServer(spec: UpstreamSpec, log: LineLog, clientPid: number | null): Promise<OpenedServer | null> {
  if (spec.kind === 'command') {
    const [command, ...args] = spec.command;
    const spawned = await spawnServer(command, args);
    if (!spawned.ok) {
      log.error('server failed to start', { command: spec.command, code: spawned.code, reason: spawned.message, clientPid });
      writeStderr(`lsptap: cannot start ${JSON.stringify(command)}: ${spawned.message}\n`);
      return null;
    }
    const child = spawned.link.child;
    child.on('error', (err) => log.error('server process error', { err: err.message }));
    return {
      link: spawned.link, socket: null,
      target: { toServerFd: fdOf(child.stdin), fromServerFd: fdOf(child.stdout), serverPid: child.pid ?? null, serverInFd: 0, serverOutFd: 1 },
      abandon: () => { child.stdin?.end(); child.kill('SIGTERM'); },
    };
  }
  let upstream: net.Socket;
  try {
    upstream = await connectTo(spec.address);
  } catch (err) {
    log.error('cannot connect to the server', { address: formatAddress(spec.address), reason: (err as Error).message, clientPid });
    writeStderr(`${(err as Error).message}\n`);
    return null;
  }
  const serverPeer = await findSocketPeer(upstream, { withPeerFd: false });
  return {
    link: new SocketServerLink(upstream, { transport: spec.address.kind, address: formatAddress(spec.address), serverPid: serverPeer.pid }),
    socket: upstream,
    target: { toServerFd: serverPeer.fd, fromServerFd: serverPeer.fd, serverPid: serverPeer.pid, serverInFd: serverPeer.peerFd, serverOutFd: serverPeer.peerFd },
    abandon: () => upstream.destroy(),
  };
}

/** Refuse an existing path with the reason; never remove someone else's file. */
async function checkFree(path: string): Promise<void> {
  let st: fs.Stats;
  try { st = fs.lstatSync(path); } catch { return; }
  if (!st.isSocket()) throw new AddressError(`lsptap: cannot listen on unix:${path}: the path exists and is not a socket; choose another path`);
  const live = await new Promise<boolean>((resolve) => {
    const s = net.connect({ path });
    s.once('connect', () => { s.destroy(); resolve(true); });
    s.once('error', () => resolve(false));
  });
  throw new AddressError(live
    ? `lsptap: cannot listen on unix:${path}: something is already listening there; choose another path`
    : `lsptap: cannot listen on unix:${path}: a socket file is already there and nobody answers on it (left by a crash?); remove it (rm ${path}) and start again`);
}

/**
 * The listen backlog: connections the kernel queues until lsptap accepts them. Node's
 * default (511) refused 69 % of a 2,000-connect burst with EAGAIN (bench/listen-accept.ts);
 * the kernel caps this at net.core.somaxconn (4096 on current kernels).
 */
export const LISTEN_BACKLOG = 4096;

function listenOn(server: net.Server, addr: ListenTarget): Promise<void> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    const done = (): void => { server.removeListener('error', reject); resolve(); };
    // An inherited socket is already bound and listening, with the unit's backlog.
    if (addr.kind === 'inherited') { server.listen({ fd: addr.fd }, done); return; }
    if (addr.kind === 'tcp') { server.listen({ host: addr.host, port: addr.port, backlog: LISTEN_BACKLOG }, done); return; }
    const old = process.umask(0o177);
    try { server.listen({ path: addr.path, backlog: LISTEN_BACKLOG }, done); } finally { process.umask(old); }
  });
}

/** Runs until a signal; resolves with the exit code. */
export async function runListenProxy(opts: ListenProxyOptions): Promise<number> {
  const top = opts.link.logger({ session: 'listener' });
  exitOnInternalError((err) => opts.link.fatal(err));
  // Signals are ours from the start: one arriving while we bind or just after "listening on"
  // is printed must stop us cleanly (socket removed, exit 0), not kill us by default action.
  const signals: NodeJS.Signals[] = ['SIGINT', 'SIGTERM', 'SIGHUP'];
  let early: NodeJS.Signals | null = null;
  let onSignal = (sig: NodeJS.Signals): void => { early ??= sig; };
  const signalled = (sig: NodeJS.Signals): void => { onSignal(sig); };
  for (const s of signals) process.on(s, signalled);
  const unhook = (): void => { for (const s of signals) process.removeListener(s, signalled); };
  if (opts.listen.kind === 'unix') await checkFree(opts.listen.path).catch((err: unknown) => { unhook(); throw err; });

  const live = new Set<net.Socket>();
  const stoppers = new Set<(sig: NodeJS.Signals) => void>();
  const running = new Set<Promise<unknown>>();
  let count = 0;
  const server = net.createServer({ allowHalfOpen: true, pauseOnConnect: true }, (client) => {
    const sessionId = `${newSessionId()}-${++count}`;
    // Lines before the session opens (rare: failures) get their own log child, made on use
    // and released when the connection is done (a daemon sees many connections).
    let early: (LineLog & { release(): void }) | null = null;
    let sessionLog: LineLog | null = null;
    const current = (): LineLog => sessionLog ?? (early ??= opts.link.logger({ session: sessionId }));
    const log: LineLog = {
      info: (m, f) => current().info(m, f),
      warn: (m, f) => current().warn(m, f),
      error: (m, f) => current().error(m, f),
    };
    client.on('error', (err) => log.warn('client connection failed', { err: err.message }));
    live.add(client);
    const clock = sessionClock();
    let stopper: ((sig: NodeJS.Signals) => void) | null = null;
    const work = (async () => {
      const clientPeer = await findSocketPeer(client, { withPeerFd: false });
      const opened = await openServer(opts.server, log, clientPeer.pid);
      if (opened === null) { client.destroy(); return; }
      if (client.destroyed) { // the editor went away while we dialled or started the server
        log.warn('client gone before the server was up', { clientPid: clientPeer.pid });
        opened.abandon();
        return;
      }
      const { link, target: serverTarget } = opened;
      if (opened.socket !== null) live.add(opened.socket);
      // Kernel timing: the analysis thread finds the peers' fds (ss) for UNIX sockets, off
      // this thread, so accepting stays cheap.
      const kernel: KernelTarget | null = opts.link.kernelOn ? {
        kind: 'connection', clientFd: clientPeer.fd, clientPid: clientPeer.pid, clientPeerFd: clientPeer.peerFd, ...serverTarget,
      } : null;
      const { channel, ready } = opts.link.openSession({
        sessionId, retainBodyMax: opts.retainBodyMax, startNs: String(clock.startNs), kernel, kernelOffReason: null,
        fields: sessionStartFields(link, opts.logPath, { startTime: clock.startTime, listen: describeTarget(opts.listen), clientPid: clientPeer.pid, connection: count, ...(count === 1 ? opts.firstStart : {}) }),
      });
      sessionLog = channel.log;
      const done = runRelaySession({
        client: { input: client, output: client, close: () => client.end() },
        server: link, link: opts.link, channel, ready, logPath: opts.logPath,
        printSummary: opts.printSummary, graceMs: opts.graceMs, ownSignals: false,
        onStarted: (stopSession) => { stopper = stopSession; stoppers.add(stopSession); },
      });
      // The client stays paused (pauseOnConnect) until the relay resumes it, once the
      // analysis side is ready: kernel timing must watch from the first byte.
      await done;
      if (opened.socket !== null) live.delete(opened.socket);
    })().finally(() => { early?.release(); live.delete(client); running.delete(work); if (stopper !== null) stoppers.delete(stopper); });
    running.add(work);
  });

  try {
    await listenOn(server, opts.listen);
  } catch (err) {
    unhook();
    const e = err as NodeJS.ErrnoException;
    throw new AddressError(`lsptap: cannot listen on ${describeTarget(opts.listen)}: ${e.code === 'EADDRINUSE' ? 'address already in use' : e.message}`);
  }
  server.on('error', (err) => top.error('listening socket failed', { err: err.message }));
  let where = describeTarget(opts.listen);
  let ownInode: number | null = null;
  const a = server.address();
  if (opts.listen.kind === 'unix') {
    fs.chmodSync(opts.listen.path, 0o600);
    ownInode = fs.lstatSync(opts.listen.path).ino;
  } else if (opts.listen.kind === 'tcp' && a !== null && typeof a === 'object') {
    where = formatAddress({ kind: 'tcp', host: a.address, port: a.port });
  }
  const spec = opts.server;
  top.info('listening', { listen: where, ...(spec.kind === 'connect' ? { connect: formatAddress(spec.address) } : { command: spec.command }) });
  writeStderr(`lsptap: listening on ${where}, ${spec.kind === 'connect' ? `relaying to ${formatAddress(spec.address)}` : `starting ${JSON.stringify(spec.command.join(' '))} for each connection`}\n`);

  // Remove the socket file only while it is still the one we made (an inherited one is systemd's).
  const listen = opts.listen;
  const cleanup = (): void => {
    if (listen.kind !== 'unix') return;
    try { if (fs.lstatSync(listen.path).ino === ownInode) fs.unlinkSync(listen.path); } catch { /* already gone */ }
  };
  process.once('exit', cleanup);

  return new Promise((resolve) => {
    let stopping = false;
    const stop = (sig: NodeJS.Signals): void => {
      if (stopping) return;
      stopping = true;
      top.info('stopping', { signal: sig, liveConnections: running.size });
      server.close();
      for (const stopSession of stoppers) stopSession(sig);
      const force = setTimeout(() => { for (const s of live) s.destroy(); }, opts.graceMs);
      force.unref();
      void Promise.allSettled([...running]).then(async () => {
        clearTimeout(force);
        unhook();
        cleanup();
        top.info('stopped', { sessions: count });
        await opts.link.close();
        resolve(0);
      });
    };
    onSignal = stop;
    if (early !== null) stop(early);
  });
}
