// One relayed session between a client (lsptap's stdio, or an accepted socket) and a server
// link (a child process or a socket), with the lifetime rules of docs/architecture.md "Decisions" (process lifetime),
// as a small state machine:
//
//   relaying ──client EOF / client gone──▶ closing ──┐ (graceMs, then stop(0), graceMs, stop(1))
//      │                                             │
//      └──────────────server gone────────────────────┴──▶ draining ──▶ flushing ──▶ finishing ──▶ done
//
// - draining: the server is gone; its last bytes are still read and forwarded until its
//   output ends, or nothing has come for QUIET_MS while nothing held the reader back (a
//   grandchild may hold the pipe open).
// - flushing: everything read is handed to the client, however slowly it reads, until it has
//   it all or closes its end. A signal, or the client going away, skips the rest of either.
// - finishing: `session end` (the end reason is made once, here, from what happened) and the
//   exit code.
// Signals (when this session owns them) are forwarded to the server in any state; a second
// one forces.

import { DirectionRelay } from './relay';
import { whenFlushed, type ClientStreams } from './client-streams';
import type { ServerGone, ServerLink } from './server-link';
import type { AnalysisLink, LineLog, SessionChannel } from './worker/analysis-link';
import type { SessionState } from '../bridge/protocol';
import type { StreamsWaiting } from '../model/stages';
import { VERSION } from '../model/version';
import { writeStderr } from './stderr';
import { ownCpuMs } from './cpu-time';

export interface RelaySessionOptions {
  client: ClientStreams & { close?: () => void };
  server: ServerLink;
  link: AnalysisLink;
  /** The session's analysis channel, opened (session start sent) by the caller. */
  channel: SessionChannel;
  /** Resolves when the analysis side is ready (probes attached): no byte is read before. */
  ready: Promise<unknown>;
  /**
   * Resolves true when kernel timing has begun watching a session that is already relaying:
   * both directions are then held until lsptap's writes are flushed and the counts taken
   * (SessionChannel.cut), once per session.
   */
  cutWhen?: Promise<boolean>;
  /** The bytes waiting between lsptap and each peer, read at the cut's instant (probes/stream-queues.ts). */
  waitingAtCut?: () => StreamsWaiting;
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
  return new RelaySession(opts).result;
}

/** After the server is gone, its output counts as over once nothing has come for this long (while nothing held the reader). */
export const QUIET_MS = 1000;

type Phase = 'relaying' | 'closing' | 'draining' | 'flushing' | 'finishing' | 'done';

/** The latest event that could end the session; the reason text is made from it once. */
export type EndCause =
  | { kind: 'server' }
  | { kind: 'client-eof' }
  | { kind: 'client-gone' }
  | { kind: 'signal'; signal: NodeJS.Signals };

/** A socket server's end of stream, as things stood then; judged once the analysis has caught up. */
export interface SocketEnd { clientDone: boolean; signalsSeen: number; err: string | null }

/**
 * The one place the end reason is decided. `broke` says the server closed a connection under
 * a live client that had neither sent `exit` nor signalled: an error line says so.
 */
export function endReason(kind: ServerLink['kind'], cause: EndCause, socketEnd: SocketEnd | null, state: SessionState): { reason: string; broke: boolean } {
  if (socketEnd !== null && !socketEnd.clientDone) {
    if (state.exitSent) return { reason: 'server closed the connection after exit', broke: false };
    if (socketEnd.signalsSeen === 0) return { reason: state.s2cCut ? 'server closed the connection mid-message' : 'server closed the connection', broke: true };
  }
  switch (cause.kind) {
    case 'server': return { reason: kind === 'child' ? 'server exited' : 'server closed the connection', broke: false };
    case 'client-eof': return { reason: 'client closed its end', broke: false };
    case 'client-gone': return { reason: 'client went away', broke: false };
    case 'signal': return { reason: kind === 'child' ? `${cause.signal} forwarded to the server` : `${cause.signal}: lsptap closed the connection`, broke: false };
  }
}

const SIGNALS: NodeJS.Signals[] = ['SIGINT', 'SIGTERM', 'SIGHUP'];

const NOTHING_KNOWN_WAITING: StreamsWaiting = { fromEditor: null, toEditor: null, toServer: null, fromServer: null };

const roundMs = (ms: number): number => Math.round(ms * 10) / 10;

/** --summary's line on what lsptap cost against what the server used. */
export function cpuShareLine(lsptapCpuMs: number, serverCpuMs: number | null): string {
  const own = `CPU: lsptap ${Math.round(lsptapCpuMs)} ms`;
  if (serverCpuMs === null || serverCpuMs <= 0) return `${own}; the server's is unknown`;
  return `${own}, ${(100 * lsptapCpuMs / serverCpuMs).toFixed(1)} % of the server's ${Math.round(serverCpuMs)} ms (its descendants included)`;
}

class RelaySession {
  readonly result: Promise<RelaySessionResult>;
  private resolveResult!: (r: RelaySessionResult) => void;
  private phase: Phase = 'relaying';
  private cause: EndCause = { kind: 'server' };
  private clientDone = false;
  private signalsSeen = 0;
  private socketEnd: SocketEnd | null = null;
  private gone: ServerGone | null = null;
  /** Whether the client had finished when the server went (its exit code may depend on it). */
  private clientDoneWhenServerWent = false;
  private timer: NodeJS.Timeout | null = null;
  private cancelFlush: (() => void) | null = null;
  private readonly log: LineLog;
  private readonly toServer: DirectionRelay;
  private readonly toClient: DirectionRelay;
  private readonly stopHolding: () => void;

  constructor(private readonly opts: RelaySessionOptions) {
    this.result = new Promise((resolve) => { this.resolveResult = resolve; });
    const { client, server, channel } = opts;
    this.log = channel.log;
    this.toServer = new DirectionRelay(client.input, server.input, (c, r, f) => channel.observe('c2s', c, r, f), {
      onSourceEnd: (err) => this.clientEnded(err),
      onDestinationError: (err) => { this.log.warn(server.kind === 'child' ? 'server stdin closed' : 'writing to the server failed', { err: err.message }); },
      onObserverError: (err) => channel.observerFailed(err),
    });
    this.toClient = new DirectionRelay(server.output, client.output, (c, r, f) => channel.observe('s2c', c, r, f), {
      onSourceEnd: (err) => this.serverOutputEnded(err),
      onDestinationError: (err) => this.clientWentAway(err),
      onObserverError: (err) => channel.observerFailed(err),
    });
    // Take hold of both streams now, read nothing until the analysis side is ready.
    this.toServer.hold(true);
    this.toClient.hold(true);
    void opts.ready.then(() => { this.toServer.hold(false); this.toClient.hold(false); });
    void opts.cutWhen?.then((go) => { if (go) void this.cut(); });
    // The analysis thread is far behind: stop reading both ways until it catches up.
    this.stopHolding = opts.link.onHold((on) => { this.toServer.hold(on); this.toClient.hold(on); });
    if (opts.ownSignals) for (const s of SIGNALS) process.on(s, this.signal);
    opts.onStarted?.(this.signal);
    server.onGone((gone) => this.serverGone(gone));
  }

  // ── events ──────────────────────────────────────────────────────────────────────────

  private clientEnded(err: Error | null): void {
    this.opts.channel.end('c2s');
    if (err !== null) this.log.warn('client input failed', { err: err.message });
    if (this.phase !== 'relaying') return;
    this.clientDone = true;
    this.cause = { kind: 'client-eof' };
    this.enterClosing('client EOF');
  }

  private clientWentAway(err: Error): void {
    this.log.warn('client went away (writing to it failed); closing our end towards the server', { err: err.message });
    this.clientDone = true;
    this.cause = { kind: 'client-gone' };
    if (this.phase === 'relaying') this.enterClosing('client went away');
    else if (this.phase === 'draining' || this.phase === 'flushing') this.enterFinishing();
  }

  private readonly signal = (sig: NodeJS.Signals): void => {
    const child = this.opts.server.kind === 'child';
    this.signalsSeen++;
    this.cause = { kind: 'signal', signal: sig };
    this.log.info(child ? 'signal forwarded' : 'signal: closing the connection', { signal: sig, count: this.signalsSeen });
    this.opts.server.forwardSignal(sig, this.signalsSeen);
    // Told to stop: the client's unread bytes are not waited for any longer.
    if (this.phase === 'draining' || this.phase === 'flushing') this.enterFinishing();
  };

  private serverOutputEnded(err: Error | null): void {
    if (this.opts.server.kind === 'socket') this.socketEnd = { clientDone: this.clientDone, signalsSeen: this.signalsSeen, err: err?.message ?? null };
    this.opts.channel.end('s2c');
    if (this.phase === 'draining') this.enterFlushing();
  }

  private serverGone(gone: ServerGone): void {
    this.gone = gone;
    this.clientDoneWhenServerWent = this.clientDone;
    this.clearTimer();
    this.enterDraining();
  }

  /** Hold both ways, let every written byte reach the kernel, hand the counts over, read again. */
  private async cut(): Promise<void> {
    const { client, server, channel } = this.opts;
    if (this.phase !== 'relaying') return;
    this.toServer.hold(true);
    this.toClient.hold(true);
    try {
      await Promise.all([whenFlushed(server.input).done, whenFlushed(client.output).done]);
      // One instant, on this thread between its own syscalls: lsptap's counts (read by the
      // kernel: forwarded, plus what a paused stream has buffered) and what waits in each
      // pipe or socket.
      const atNs = String(process.hrtime.bigint());
      const waiting = this.opts.waitingAtCut?.() ?? NOTHING_KNOWN_WAITING;
      // Read again at once, not after the analysis thread has the counts (a slow or idle
      // thread held the session): nothing is forwarded before releasedNs.
      void channel.cut({
        atNs, waiting, releasedNs: String(process.hrtime.bigint()),
        c2sRead: this.toServer.bytes + client.input.readableLength, c2sWritten: this.toServer.bytes,
        s2cRead: this.toClient.bytes + server.output.readableLength, s2cWritten: this.toClient.bytes,
      }).catch(() => undefined); // a thread that is gone leaves the session untimed, not stopped
    } finally {
      this.toServer.hold(false);
      this.toClient.hold(false);
    }
  }

  // ── states ──────────────────────────────────────────────────────────────────────────

  /** The client is done: close our end towards the server, and give it graceMs before asking it to stop. */
  private enterClosing(why: string): void {
    this.phase = 'closing';
    const { server, graceMs } = this.opts;
    server.endInput();
    this.timer = setTimeout(() => {
      this.log.warn(server.kind === 'child' ? 'server still running; sending SIGTERM' : 'server still connected; closing the connection', { afterMs: graceMs, why });
      server.stop(0);
      this.timer = setTimeout(() => {
        this.log.warn('server still running; sending SIGKILL', { afterMs: graceMs, why });
        server.stop(1);
      }, graceMs);
      this.timer.unref();
    }, graceMs);
    this.timer.unref();
  }

  /** The server is gone: go on reading its output until it ends or falls quiet. */
  private enterDraining(): void {
    this.phase = 'draining';
    if (this.toClient.sourceEnded) { this.enterFlushing(); return; }
    let seen = this.toClient.bytes;
    const check = (): void => {
      this.timer = null;
      if (this.phase !== 'draining') return;
      const moved = this.toClient.bytes !== seen;
      seen = this.toClient.bytes;
      if (moved || this.toClient.blocked) { this.timer = setTimeout(check, QUIET_MS); return; }
      this.enterFlushing();
    };
    this.timer = setTimeout(check, QUIET_MS);
  }

  /** Everything the server sent is read: wait until the client has it all (or is gone). */
  private enterFlushing(): void {
    this.clearTimer();
    this.phase = 'flushing';
    const { done, cancel } = whenFlushed(this.opts.client.output);
    this.cancelFlush = cancel;
    void done.then(() => { if (this.phase === 'flushing') this.enterFinishing(); });
  }

  private enterFinishing(): void {
    this.clearTimer();
    this.cancelFlush?.();
    this.cancelFlush = null;
    this.phase = 'finishing';
    void this.finish();
  }

  private async finish(): Promise<void> {
    const { opts } = this;
    const gone = this.gone!;
    opts.client.close?.();
    this.stopHolding();
    const state = await opts.channel.state();
    const { reason, broke } = endReason(opts.server.kind, this.cause, this.socketEnd, state);
    if (broke) this.log.error(reason, { err: this.socketEnd?.err ?? null, offset: state.s2cOffset });
    const lsptapExitCode = gone.lsptapExitCode(this.clientDoneWhenServerWent || state.exitSent);
    const lsptapCpuMs = roundMs(ownCpuMs());
    const serverCpu = opts.server.cpuMs();
    const serverCpuMs = serverCpu === null ? null : roundMs(serverCpu);
    const tables = await opts.channel.finish({
      exitCode: gone.exitCode, signal: gone.signal, reason, lsptapExitCode, ...(gone.error !== null ? { error: gone.error } : {}), lsptapCpuMs, serverCpuMs,
    }, opts.printSummary);
    if (tables.summaryTable !== null) {
      writeStderr(`\nlsptap: session summary (${opts.logPath ?? 'log on stderr'})\n${tables.summaryTable}`);
      writeStderr(`\nlsptap: ${cpuShareLine(lsptapCpuMs, serverCpuMs)}\n`);
      if (tables.kernelTable !== null) writeStderr(`\nlsptap: where the time went (kernel timing, p50 ms; docs/kernel-timing.md)\n${tables.kernelTable}`);
    }
    if (opts.ownSignals) for (const s of SIGNALS) process.removeListener(s, this.signal);
    this.phase = 'done';
    this.resolveResult({ exitCode: lsptapExitCode });
  }

  private clearTimer(): void {
    if (this.timer !== null) { clearTimeout(this.timer); this.timer = null; }
  }
}
