// lsptap's stdio is the client side; the server is either a child process
// (`lsptap [options] -- COMMAND ARGS`, spawned without a shell) or a listening socket
// (`lsptap --connect ADDR`). Both run through relay-session.ts, so the lifetime rules and
// exit codes are the same; see docs/architecture.md "Decisions" (process lifetime) and docs/editors.md.

import type { ChildProcess } from 'node:child_process';
import { stdioClient } from './client-streams';
import { writeStderr } from './stderr';
import { runRelaySession, sessionStartFields, sessionClock, type SessionClock } from './relay-session';
import { spawnServer, SocketServerLink, type ServerLink } from './server-link';
import { connectTo, formatAddress, type SocketAddress } from './address';
import { findSocketPeer } from './socket-peer';
import { fdOf } from '../probes/peer-process';
import { queueSampler } from '../probes/stream-queues';
import type { AnalysisLink, LineLog, SessionChannel } from './worker/analysis-link';
import type { KernelTarget } from '../bridge/protocol';
import { StartupError } from '../model/errors';

export { exitCodeOf } from './server-link';

interface CommonOptions {
  /** The link to the analysis thread (started here if it was not), with its log open. */
  link: AnalysisLink;
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
}

export interface ConnectProxyOptions extends CommonOptions {
  address: SocketAddress;
}

/**
 * A bug of ours must not leave the log short: record it, wait (at most 2 s) until the
 * analysis thread has written everything, and exit (the server sees EOF and ends as it
 * would with a closed editor).
 */
export function exitOnInternalError(fatal: (err: string) => void): void {
  process.once('uncaughtException', (err) => {
    fatal(err.stack ?? String(err));
    writeStderr(`lsptap: internal error: ${err.stack ?? String(err)}\n`);
    process.exit(70);
  });
}

function childTarget(child: ChildProcess): KernelTarget | null {
  const toServerFd = fdOf(child.stdin);
  const fromServerFd = fdOf(child.stdout);
  if (child.pid === undefined || toServerFd === null || fromServerFd === null) return null;
  return { kind: 'child', serverPid: child.pid, toServerFd, fromServerFd };
}

/** Open the session's channel and relay until the server is gone; --bpf=require may refuse the probes, which stops the server. */
async function relayAndClose(opts: CommonOptions, server: ServerLink, clock: SessionClock, kernel: KernelTarget | null, kernelOffReason: string | null, onChannel?: (c: SessionChannel) => void): Promise<number> {
  const { channel, ready } = opts.link.openSession({
    sessionId: opts.sessionId, retainBodyMax: opts.retainBodyMax, startNs: String(clock.startNs),
    fields: sessionStartFields(server, opts.logPath, { startTime: clock.startTime, ...opts.extraStart }), kernel, kernelOffReason,
  });
  let refused = false;
  void ready.then(({ refuse }) => {
    if (refuse === null) return;
    writeStderr(`${refuse}\n`);
    server.stop(0);
  });
  // --bpf=require with a child server: the probes load while it starts and relays (a
  // capability check ran first, cli.ts); if they then fail, so does the session.
  opts.link.started.catch((err: unknown) => {
    if (!(err instanceof StartupError)) return;
    refused = true;
    writeStderr(`${err.message}\n`);
    server.stop(0);
  });
  onChannel?.(channel);
  exitOnInternalError((err) => opts.link.fatal(err));
  // A child server's bytes flow from the first one while the probes load: they watch from a
  // cut (relay-session.ts), where what waits in each pipe or socket is read with lsptap's
  // counts (probes/stream-queues.ts). A socket's server was found with the probes loaded:
  // its bytes wait the few ms until they watch. Without probes the ring takes the bytes
  // while the analysis thread starts.
  const late = kernel?.kind === 'child' ? kernel : null;
  const hold = kernel !== null && late === null ? ready : Promise.resolve();
  const session = runRelaySession({
    client: stdioClient(), server, link: opts.link, channel, ready: hold, logPath: opts.logPath,
    printSummary: opts.printSummary, graceMs: opts.graceMs, ownSignals: true,
    cutWhen: late !== null ? ready.then((r) => r.cut) : undefined,
    waitingAtCut: late !== null ? queueSampler({ fromEditor: 0, toEditor: 1, toServer: late.toServerFd, fromServer: late.fromServerFd }) : undefined,
  });
  // The relays hold the streams: now the analysis thread (a child server's session made the
  // link without it, so that nothing of its start came before the server's).
  opts.link.startThread();
  const { exitCode } = await session;
  await opts.link.close();
  return refused ? 1 : exitCode;
}

/** Run the proxy until the server is gone; resolves with the exit code to use. */
export async function runStdioProxy(opts: StdioProxyOptions): Promise<number> {
  const clock = sessionClock();
  const spawned = await spawnServer(opts.command, opts.args, opts.env);
  if (!spawned.ok) {
    writeStderr(`lsptap: cannot start ${JSON.stringify(opts.command)}: ${spawned.message}\n`);
    const log: LineLog = opts.link.logger({ session: opts.sessionId });
    log.error('server failed to start', { command: [opts.command, ...opts.args], code: spawned.code, reason: spawned.message });
    await opts.link.close();
    return spawned.exitCode;
  }
  const child = spawned.link.child;
  // The analysis thread may still be loading the probes: give it the target if it wants one.
  const kernel = opts.link.kernelWanted ? childTarget(child) : null;
  // No await from here until the relays hold the child's streams.
  return relayAndClose(opts, spawned.link, clock, kernel, opts.link.kernelWanted && kernel === null ? 'cannot find the fds of the server pipes' : null,
    (channel) => child.on('error', (err) => channel.log.error('server process error', { err: err.message })));
}

/** `lsptap --connect ADDR`: relay our stdio to a listening server; no child process. */
export async function runConnectProxy(opts: ConnectProxyOptions): Promise<number> {
  const clock = sessionClock();
  let socket;
  try {
    socket = await connectTo(opts.address);
  } catch (err) {
    writeStderr(`${(err as Error).message}\n`);
    opts.link.logger({ session: opts.sessionId }).error('cannot connect to the server', { address: formatAddress(opts.address), reason: (err as Error).message });
    await opts.link.close();
    return 1;
  }
  const peer = await findSocketPeer(socket, { withPeerFd: opts.link.kernelOn });
  const link = new SocketServerLink(socket, {
    transport: opts.address.kind, address: formatAddress(opts.address), serverPid: peer.pid,
  });
  const kernel: KernelTarget | null = opts.link.kernelOn ? { kind: 'socket', fd: peer.fd, pid: peer.pid, peerFd: peer.peerFd } : null;
  return relayAndClose(opts, link, clock, kernel, null);
}
