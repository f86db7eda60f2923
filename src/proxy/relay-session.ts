// One relayed session between a client (lsptap's stdio, or an accepted socket) and a server
// link (a child process or a socket), with the lifetime rules of README "Process lifetime":
// - client EOF: close our end towards the server; if the server is still there after
//   graceMs, ask it to stop (SIGTERM / close), after another graceMs force it (SIGKILL).
// - signals (when this session owns them): forwarded to the server; a second one forces.
// - server gone: wait for its output to end (at most 1 s, a grandchild may hold a pipe), let
//   the client's output drain (at most 2 s), write `session end`, resolve with the exit code.

import { DirectionRelay } from './relay';
import type { Direction } from './frame';
import { Session, type RecordSink, type RecordStage } from './session';
import { drained, type ClientStreams } from './client-streams';
import type { ServerLink } from './server-link';
import type { SessionLogChild } from '../sinks/session-log';
import { formatKernelTable, formatSummaryTable } from '../sinks/summary';
import { VERSION } from '../version';

/** What a kernel-timing probe (issue 4) hands back when it attaches to a session. */
export interface SessionAttachment {
  stage?: RecordStage;
  sinks?: RecordSink[];
  onBadInput?: (dir: Direction) => void;
  extraStart?: Record<string, unknown>;
  stop?: () => Promise<Record<string, unknown>>;
  /** Kernel timing: events the kernel dropped so far (for the metrics' drop counter). */
  kernelDrops?: () => number;
}

export interface RelaySessionOptions {
  client: ClientStreams & { close?: () => void };
  server: ServerLink;
  log: SessionLogChild;
  logPath: string | null;
  startNs: bigint;
  retainBodyMax: number;
  printSummary: boolean;
  graceMs: number;
  /** Forward SIGINT/SIGTERM/SIGHUP to the server (stdio and --connect modes). */
  ownSignals: boolean;
  attach?: SessionAttachment;
  extraStart?: Record<string, unknown>;
  /** Receives a function that ends the session as a signal would (listen mode's shutdown). */
  onStarted?: (stop: (signal: NodeJS.Signals) => void) => void;
}

export interface RelaySessionResult { exitCode: number; session: Session }

export function runRelaySession(opts: RelaySessionOptions): Promise<RelaySessionResult> {
  return new Promise((resolveExit) => {
    const { client, server, log } = opts;
    const attach = opts.attach ?? {};
    const session = new Session({ log, startNs: opts.startNs, retainBodyMax: opts.retainBodyMax, stage: attach.stage, sinks: attach.sinks, onBadInput: attach.onBadInput });
    log.sessionStart({
      command: null, serverPid: null, ...server.startFields, version: VERSION,
      logPath: opts.logPath, cwd: process.cwd(), startNs: opts.startNs, ...(opts.extraStart ?? {}), ...(attach.extraStart ?? {}),
    } as Parameters<SessionLogChild['sessionStart']>[0]);

    let endReason = server.kind === 'child' ? 'server exited' : 'server closed the connection';
    let clientGone = false;
    let serverGone = false;
    let graceTimer: NodeJS.Timeout | null = null;
    let signalsSeen = 0;

    const escalate = (why: string): void => {
      if (graceTimer !== null || serverGone) return;
      graceTimer = setTimeout(() => {
        log.warn(server.kind === 'child' ? 'server still running; sending SIGTERM' : 'server still connected; closing the connection', { afterMs: opts.graceMs, why });
        server.stop(0);
        graceTimer = setTimeout(() => {
          log.warn('server still running; sending SIGKILL', { afterMs: opts.graceMs, why });
          server.stop(1);
        }, opts.graceMs);
        graceTimer.unref();
      }, opts.graceMs);
      graceTimer.unref();
    };

    new DirectionRelay(client.input, server.input, (c, r, f) => session.observe('c2s', c, r, f), {
      onSourceEnd: (err) => {
        session.end('c2s');
        if (err !== null) log.warn('client input failed', { err: err.message });
        if (!clientGone && !serverGone) { clientGone = true; endReason = 'client closed its end'; }
        server.endInput();
        escalate('client EOF');
      },
      onDestinationError: (err) => { log.warn(server.kind === 'child' ? 'server stdin closed' : 'writing to the server failed', { err: err.message }); },
      onObserverError: (err) => session.observerFailed(err),
    });
    new DirectionRelay(server.output, client.output, (c, r, f) => session.observe('s2c', c, r, f), {
      onSourceEnd: (err) => {
        if (server.kind === 'socket' && !clientGone && session.exitSent) endReason = 'server closed the connection after exit';
        if (server.kind === 'socket' && !clientGone && !session.exitSent && signalsSeen === 0) {
          const midMessage = session.insideFrame('s2c');
          endReason = midMessage ? 'server closed the connection mid-message' : 'server closed the connection';
          log.error(endReason, { err: err?.message ?? null, offset: session.bytesSeen('s2c') });
        }
        session.end('s2c');
        serverOutEnded();
      },
      onDestinationError: (err) => {
        log.warn('client went away (writing to it failed); closing our end towards the server', { err: err.message });
        clientGone = true;
        endReason = 'client went away';
        server.endInput();
        escalate('client went away');
      },
      onObserverError: (err) => session.observerFailed(err),
    });

    let outEnded = false;
    let onOutEnded: (() => void) | null = null;
    const serverOutEnded = (): void => { outEnded = true; onOutEnded?.(); };

    const forward = (sig: NodeJS.Signals): void => {
      signalsSeen++;
      endReason = server.kind === 'child' ? `${sig} forwarded to the server` : `${sig}: lsptap closed the connection`;
      log.info(server.kind === 'child' ? 'signal forwarded' : 'signal: closing the connection', { signal: sig, count: signalsSeen });
      server.forwardSignal(sig, signalsSeen);
    };
    const signals: NodeJS.Signals[] = ['SIGINT', 'SIGTERM', 'SIGHUP'];
    if (opts.ownSignals) for (const s of signals) process.on(s, forward);
    opts.onStarted?.(forward);

    server.onGone((gone) => {
      serverGone = true;
      if (graceTimer !== null) clearTimeout(graceTimer);
      const finish = async (): Promise<void> => {
        await drained(client.output, 2000);
        client.close?.();
        const extra = attach.stop !== undefined ? await attach.stop() : {};
        await session.finish({ exitCode: gone.exitCode, signal: gone.signal, reason: endReason, lsptapExitCode: gone.lsptapExitCode, ...(gone.error !== null ? { error: gone.error } : {}), ...extra });
        if (opts.printSummary) {
          const rows = session.summary.rows();
          const kernel = formatKernelTable(rows);
          process.stderr.write(`\nlsptap: session summary (${opts.logPath ?? 'log on stderr'})\n${formatSummaryTable(rows)}`);
          if (kernel !== '') process.stderr.write(`\nlsptap: where the time went (kernel timing, p50 ms; README "Kernel timing")\n${kernel}`);
        }
        if (opts.ownSignals) for (const s of signals) process.removeListener(s, forward);
        resolveExit({ exitCode: gone.lsptapExitCode, session });
      };
      if (outEnded) { void finish(); return; }
      const t = setTimeout(() => { onOutEnded = null; void finish(); }, 1000);
      onOutEnded = () => { clearTimeout(t); onOutEnded = null; void finish(); };
    }, () => clientGone || session.exitSent);
  });
}
