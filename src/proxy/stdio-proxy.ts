// lsptap's stdio is the client side; the server is either a child process
// (`lsptap [options] -- COMMAND ARGS`, spawned without a shell) or a listening socket
// (`lsptap --connect ADDR`). Both run through relay-session.ts, so the lifetime rules and
// exit codes are the same; see README "Process lifetime" and "Drop-in".

import type { ChildProcess } from 'node:child_process';
import { stdioClient } from './client-streams';
import { runRelaySession, type SessionAttachment } from './relay-session';
import { spawnServer, SocketServerLink } from './server-link';
import { connectTo, formatAddress, type SocketAddress } from './address';
import { findSocketPeer, type SocketPeer } from './socket-peer';
import type { SessionLog, SessionLogChild } from '../sinks/session-log';

export { exitCodeOf } from './server-link';
export type { SessionAttachment } from './relay-session';

interface CommonOptions {
  log: SessionLog;
  logPath: string | null;
  retainBodyMax: number;
  printSummary: boolean;
  graceMs: number;
  sessionId: string;
  /** Extra `session start` fields (e.g. how lsptap was invoked). */
  extraStart?: Record<string, unknown>;
}

export interface StdioProxyOptions extends CommonOptions {
  command: string;
  args: string[];
  /** The server's environment (default: ours). */
  env?: NodeJS.ProcessEnv;
  /** Called with the spawned server before any byte flows (kernel timing attaches here). */
  onServerSpawned?: (server: ChildProcess, log: SessionLogChild) => SessionAttachment;
}

export interface ConnectProxyOptions extends CommonOptions {
  address: SocketAddress;
  /** Called with the connected socket and the process at its other end (kernel timing). */
  onSocketConnected?: (peer: SocketPeer, log: SessionLogChild) => SessionAttachment;
  /** Also find the fd the server holds the connection on (kernel timing; spawns `ss`). */
  lookUpPeerFd?: boolean;
}

/**
 * A bug of ours must not leave the log short: record it, flush synchronously, and exit (the
 * server sees EOF and ends as it would with a closed editor).
 */
export function exitOnInternalError(log: SessionLog, logChild: SessionLogChild): void {
  process.once('uncaughtException', (err) => {
    logChild.error('lsptap internal error', { err: err.stack ?? String(err) });
    log.flushSync();
    process.stderr.write(`lsptap: internal error: ${err.stack ?? String(err)}\n`);
    process.exit(70);
  });
}

/** Run the proxy until the server is gone; resolves with the exit code to use. */
export async function runStdioProxy(opts: StdioProxyOptions): Promise<number> {
  const startNs = process.hrtime.bigint();
  const logChild = opts.log.child({ session: opts.sessionId });
  const spawned = await spawnServer(opts.command, opts.args, opts.env);
  if (!spawned.ok) {
    process.stderr.write(`lsptap: cannot start ${JSON.stringify(opts.command)}: ${spawned.message}\n`);
    logChild.error('server failed to start', { command: [opts.command, ...opts.args], code: spawned.code, reason: spawned.message });
    await opts.log.close();
    return spawned.exitCode;
  }
  const child = spawned.link.child;
  child.on('error', (err) => logChild.error('server process error', { err: err.message }));
  const attach = opts.onServerSpawned?.(child, logChild);
  exitOnInternalError(opts.log, logChild);
  const { exitCode } = await runRelaySession({
    client: stdioClient(), server: spawned.link, log: logChild, logPath: opts.logPath, startNs,
    retainBodyMax: opts.retainBodyMax, printSummary: opts.printSummary, graceMs: opts.graceMs,
    ownSignals: true, attach, extraStart: opts.extraStart,
  });
  await opts.log.close();
  return exitCode;
}

/** `lsptap --connect ADDR`: relay our stdio to a listening server; no child process. */
export async function runConnectProxy(opts: ConnectProxyOptions): Promise<number> {
  const startNs = process.hrtime.bigint();
  const logChild = opts.log.child({ session: opts.sessionId });
  let socket;
  try {
    socket = await connectTo(opts.address);
  } catch (err) {
    process.stderr.write(`${(err as Error).message}\n`);
    logChild.error('cannot connect to the server', { address: formatAddress(opts.address), reason: (err as Error).message });
    await opts.log.close();
    return 1;
  }
  const peer = await findSocketPeer(socket, { withPeerFd: opts.lookUpPeerFd === true });
  const link = new SocketServerLink(socket, {
    transport: opts.address.kind, address: formatAddress(opts.address), serverPid: peer.pid,
  });
  const attach = opts.onSocketConnected?.(peer, logChild);
  exitOnInternalError(opts.log, logChild);
  const { exitCode } = await runRelaySession({
    client: stdioClient(), server: link, log: logChild, logPath: opts.logPath, startNs,
    retainBodyMax: opts.retainBodyMax, printSummary: opts.printSummary, graceMs: opts.graceMs,
    ownSignals: true, attach, extraStart: opts.extraStart,
  });
  await opts.log.close();
  return exitCode;
}
