// `lsptap --listen ADDR --connect DAEMON`: sits in front of a shared server (the gopls
// daemon). Every accepted connection gets its own connection to the daemon and is its own
// session: its own id on every log line, its own summary and `session end`, all on one log.
// Editors keep starting `gopls -remote='unix;ADDR'`; the forwarder's gopls/handshake is
// relayed untouched like any other message.
//
// A UNIX socket lsptap creates is 0600 (made under umask 0177, then checked) and removed on
// exit; an existing path is refused with a sentence, never unlinked. SIGINT/SIGTERM/SIGHUP
// stop listening, close every live session (their `session end` lines are written) and exit 0.

import fs from 'node:fs';
import net from 'node:net';
import { randomUUID } from 'node:crypto';
import { runRelaySession, sessionStartFields, sessionClock } from './relay-session';
import { SocketServerLink } from './server-link';
import { AddressError, connectTo, formatAddress, type SocketAddress } from './address';
import { findSocketPeer } from './socket-peer';
import { exitOnInternalError } from './stdio-proxy';
import type { AnalysisLink, LineLog } from './analysis-link';

export interface ListenProxyOptions {
  listen: SocketAddress;
  connect: SocketAddress;
  /** The analysis thread, started, with its log open. */
  link: AnalysisLink;
  logPath: string | null;
  retainBodyMax: number;
  printSummary: boolean;
  graceMs: number;
  /** Why kernel timing is off here, written once per session (null: --bpf=off). */
  kernelOffReason: string | null;
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

function listenOn(server: net.Server, addr: SocketAddress): Promise<void> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    const done = (): void => { server.removeListener('error', reject); resolve(); };
    if (addr.kind === 'tcp') { server.listen({ host: addr.host, port: addr.port }, done); return; }
    const old = process.umask(0o177);
    try { server.listen({ path: addr.path }, done); } finally { process.umask(old); }
  });
}

/** Runs until a signal; resolves with the exit code. */
export async function runListenProxy(opts: ListenProxyOptions): Promise<number> {
  const top = opts.link.logger({ session: 'listener' });
  exitOnInternalError((err) => opts.link.fatal(err));
  if (opts.listen.kind === 'unix') await checkFree(opts.listen.path);

  const live = new Set<net.Socket>();
  const stoppers = new Set<(sig: NodeJS.Signals) => void>();
  const running = new Set<Promise<unknown>>();
  let count = 0;
  const server = net.createServer({ allowHalfOpen: true, pauseOnConnect: true }, (client) => {
    const sessionId = `${randomUUID().slice(0, 8)}-${++count}`;
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
      let upstream: net.Socket;
      try {
        upstream = await connectTo(opts.connect);
      } catch (err) {
        log.error('cannot connect to the server', { address: formatAddress(opts.connect), reason: (err as Error).message, clientPid: clientPeer.pid });
        process.stderr.write(`${(err as Error).message}\n`);
        client.destroy();
        return;
      }
      if (client.destroyed) { // the editor went away while we dialled
        log.warn('client gone before the server connection was up', { clientPid: clientPeer.pid });
        upstream.destroy();
        return;
      }
      live.add(upstream);
      const serverPeer = await findSocketPeer(upstream, { withPeerFd: false });
      const link = new SocketServerLink(upstream, {
        transport: opts.connect.kind, address: formatAddress(opts.connect), serverPid: serverPeer.pid,
      });
      const { channel, ready } = opts.link.openSession({
        sessionId, retainBodyMax: opts.retainBodyMax, startNs: String(clock.startNs), kernel: null, kernelOffReason: opts.kernelOffReason,
        fields: sessionStartFields(link, opts.logPath, { startTime: clock.startTime, listen: formatAddress(opts.listen), clientPid: clientPeer.pid, connection: count }),
      });
      sessionLog = channel.log;
      const done = runRelaySession({
        client: { input: client, output: client, close: () => client.end() },
        server: link, link: opts.link, channel, ready, logPath: opts.logPath,
        printSummary: opts.printSummary, graceMs: opts.graceMs, ownSignals: false,
        onStarted: (stopSession) => { stopper = stopSession; stoppers.add(stopSession); },
      });
      client.resume(); // paused on accept until the daemon connection was up (pauseOnConnect)
      await done;
      live.delete(upstream);
    })().finally(() => { early?.release(); live.delete(client); running.delete(work); if (stopper !== null) stoppers.delete(stopper); });
    running.add(work);
  });

  try {
    await listenOn(server, opts.listen);
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    throw new AddressError(`lsptap: cannot listen on ${formatAddress(opts.listen)}: ${e.code === 'EADDRINUSE' ? 'address already in use' : e.message}`);
  }
  server.on('error', (err) => top.error('listening socket failed', { err: err.message }));
  let bound = opts.listen;
  let ownInode: number | null = null;
  const a = server.address();
  if (opts.listen.kind === 'unix') {
    fs.chmodSync(opts.listen.path, 0o600);
    ownInode = fs.lstatSync(opts.listen.path).ino;
  } else if (a !== null && typeof a === 'object') {
    bound = { kind: 'tcp', host: a.address, port: a.port };
  }
  const where = formatAddress(bound);
  top.info('listening', { listen: where, connect: formatAddress(opts.connect) });
  process.stderr.write(`lsptap: listening on ${where}, relaying to ${formatAddress(opts.connect)}\n`);

  // Remove the socket file only while it is still the one we made.
  const cleanup = (): void => {
    if (opts.listen.kind !== 'unix') return;
    try { if (fs.lstatSync(opts.listen.path).ino === ownInode) fs.unlinkSync(opts.listen.path); } catch { /* already gone */ }
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
        for (const s of signals) process.removeListener(s, stop);
        cleanup();
        top.info('stopped', { sessions: count });
        await opts.link.close();
        resolve(0);
      });
    };
    const signals: NodeJS.Signals[] = ['SIGINT', 'SIGTERM', 'SIGHUP'];
    for (const s of signals) process.on(s, stop);
  });
}
