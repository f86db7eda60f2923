// One relayed session between a client (lsptap's stdio, or an accepted socket) and a server
// link (a child process or a socket), with the lifetime rules of README "Process lifetime":
// - client EOF: close our end towards the server; if the server is still there after
//   graceMs, ask it to stop (SIGTERM / close), after another graceMs force it (SIGKILL).
// - signals (when this session owns them): forwarded to the server; a second one forces.
// - server gone: wait for its output to end (at most 1 s, a grandchild may hold a pipe), let
//   the client's output drain (at most 2 s), write `session end`, resolve with the exit code.

import { DirectionRelay } from './relay';
import { drained, type ClientStreams } from './client-streams';
import type { ServerLink } from './server-link';
import type { AnalysisLink, SessionChannel } from './analysis-link';
import { VERSION } from '../model/version';

export interface RelaySessionOptions {
  client: ClientStreams & { close?: () => void };
  server: ServerLink;
  link: AnalysisLink;
  /** The session's analysis channel, opened (session start sent) by the caller. */
  channel: SessionChannel;
  /** Resolves when the analysis side is ready (probes attached): no byte is read before. */
  ready: Promise<unknown>;
  logPath: string | null;
  printSummary: boolean;
  graceMs: number;
  /** Forward SIGINT/SIGTERM/SIGHUP to the server (stdio and --connect modes). */
  ownSignals: boolean;
  /** Receives a function that ends the session as a signal would (listen mode's shutdown). */
  onStarted?: (stop: (signal: NodeJS.Signals) => void) => void;
}

export interface RelaySessionResult { exitCode: number }

/** The `session start` fields every transport shares; extra ones (how lsptap was invoked, listen details) last. */
export function sessionStartFields(server: ServerLink, logPath: string | null, extra: Record<string, unknown> = {}): Record<string, unknown> {
  return { command: null, serverPid: null, ...server.startFields, version: VERSION, logPath, cwd: process.cwd(), ...extra };
}

/** A session's time origin: hrtime and the wall clock at one instant. */
export interface SessionClock { startNs: bigint; startTime: string }

/**
 * Read both clocks at one instant: Date.now() has whole milliseconds, so wait for it to
 * tick and take the hrtime of that tick, the middle of the last hrtime read before the
 * Date.now() that still showed the old millisecond and the first read after the one that
 * showed the new one. A bracket wider than TICK_BRACKET_NS (the thread was preempted)
 * waits for the next tick, at most 5 times; `startTime` is then right to a few µs.
 */
export function sessionClock(): SessionClock {
  let best: SessionClock | null = null;
  let bestWidth = Infinity;
  for (let attempt = 0; attempt < 5 && bestWidth > TICK_BRACKET_NS; attempt++) {
    const first = Date.now();
    let before = process.hrtime.bigint();
    let now = first;
    let after = before;
    // Bounded: a clock stepped backwards would otherwise never tick past `first`.
    for (let i = 0; now === first && i < 1_000_000; i++) {
      before = after;
      now = Date.now();
      after = process.hrtime.bigint();
    }
    const width = Number(after - before);
    if (width < bestWidth) {
      bestWidth = width;
      best = { startNs: before + (after - before) / 2n, startTime: new Date(now).toISOString() };
    }
  }
  return best!;
}

/** How wide (ns) the hrtime bracket of a Date.now() tick may be. */
const TICK_BRACKET_NS = 20_000;

export function runRelaySession(opts: RelaySessionOptions): Promise<RelaySessionResult> {
  return new Promise((resolveExit) => {
    const { client, server, channel } = opts;
    const log = channel.log;

    let endReason = server.kind === 'child' ? 'server exited' : 'server closed the connection';
    let clientGone = false;
    let serverGone = false;
    let graceTimer: NodeJS.Timeout | null = null;
    let signalsSeen = 0;
    // A socket server's end of stream, as things stood then; judged once the analysis
    // thread has caught up (was `exit` sent? did it stop mid-message?).
    let socketEnd: { clientGone: boolean; signalsSeen: number; err: string | null } | null = null;

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

    const toServer = new DirectionRelay(client.input, server.input, (c, r, f) => channel.observe('c2s', c, r, f), {
      onSourceEnd: (err) => {
        channel.end('c2s');
        if (err !== null) log.warn('client input failed', { err: err.message });
        if (!clientGone && !serverGone) { clientGone = true; endReason = 'client closed its end'; }
        server.endInput();
        escalate('client EOF');
      },
      onDestinationError: (err) => { log.warn(server.kind === 'child' ? 'server stdin closed' : 'writing to the server failed', { err: err.message }); },
      onObserverError: (err) => channel.observerFailed(err),
    });
    const toClient = new DirectionRelay(server.output, client.output, (c, r, f) => channel.observe('s2c', c, r, f), {
      onSourceEnd: (err) => {
        if (server.kind === 'socket') socketEnd = { clientGone, signalsSeen, err: err?.message ?? null };
        channel.end('s2c');
        serverOutEnded();
      },
      onDestinationError: (err) => {
        log.warn('client went away (writing to it failed); closing our end towards the server', { err: err.message });
        clientGone = true;
        endReason = 'client went away';
        server.endInput();
        escalate('client went away');
      },
      onObserverError: (err) => channel.observerFailed(err),
    });
    // Take hold of both streams now, read nothing until the analysis side is ready.
    toServer.hold(true);
    toClient.hold(true);
    void opts.ready.then(() => { toServer.hold(false); toClient.hold(false); });
    // The analysis thread is far behind: stop reading both ways until it catches up.
    const stopHolding = opts.link.onHold((on) => { toServer.hold(on); toClient.hold(on); });

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
      const clientGoneThen = clientGone;
      if (graceTimer !== null) clearTimeout(graceTimer);
      const finish = async (): Promise<void> => {
        await drained(client.output, 2000);
        client.close?.();
        stopHolding();
        const state = await channel.state();
        const se: { clientGone: boolean; signalsSeen: number; err: string | null } | null = socketEnd;
        if (se !== null && !se.clientGone) {
          if (state.exitSent) endReason = 'server closed the connection after exit';
          else if (se.signalsSeen === 0) {
            endReason = state.s2cCut ? 'server closed the connection mid-message' : 'server closed the connection';
            log.error(endReason, { err: se.err, offset: state.s2cOffset });
          }
        }
        const lsptapExitCode = gone.lsptapExitCode(clientGoneThen || state.exitSent);
        const tables = await channel.finish({ exitCode: gone.exitCode, signal: gone.signal, reason: endReason, lsptapExitCode, ...(gone.error !== null ? { error: gone.error } : {}) }, opts.printSummary);
        if (tables.summaryTable !== null) {
          process.stderr.write(`\nlsptap: session summary (${opts.logPath ?? 'log on stderr'})\n${tables.summaryTable}`);
          if (tables.kernelTable !== null) process.stderr.write(`\nlsptap: where the time went (kernel timing, p50 ms; README "Kernel timing")\n${tables.kernelTable}`);
        }
        if (opts.ownSignals) for (const s of signals) process.removeListener(s, forward);
        resolveExit({ exitCode: lsptapExitCode });
      };
      if (outEnded) { void finish(); return; }
      const t = setTimeout(() => { onOutEnded = null; void finish(); }, 1000);
      onOutEnded = () => { clearTimeout(t); onOutEnded = null; void finish(); };
    });
  });
}
