// `lsptap [options] -- COMMAND ARGS`: spawn the server (no shell), relay stdio both ways,
// observe, and pass the server's exit code through.
//
// Lifetime rules (README "Process lifetime"):
// - client EOF: close the server's stdin; if it has not exited after graceMs, SIGTERM; after
//   another graceMs, SIGKILL.
// - SIGINT/SIGTERM/SIGHUP to lsptap: forwarded to the server; lsptap exits when it does.
//   A second SIGINT/SIGTERM while waiting sends SIGKILL.
// - server exit: wait for its stdout to end (at most 1 s, a grandchild may hold it), let our
//   stdout drain (at most 2 s), write `session end`, close the log, exit with the code
//   (128+N for signal N).

import { spawn, type ChildProcess } from 'node:child_process';
import os from 'node:os';
import { DirectionRelay } from './relay';
import { Session, type RecordSink, type RecordStage } from './session';
import type { Direction } from './frame';
import { drained, stdioClient } from './client-streams';
import type { SessionLog, SessionLogChild } from '../sinks/session-log';
import { formatKernelTable, formatSummaryTable } from '../sinks/summary';
import { VERSION } from '../version';

export interface StdioProxyOptions {
  command: string;
  args: string[];
  log: SessionLog;
  logPath: string | null;
  retainBodyMax: number;
  printSummary: boolean;
  graceMs: number;
  sessionId: string;
  /** Called with the spawned server before any byte flows (kernel timing attaches here). */
  onServerSpawned?: (server: ChildProcess, log: SessionLogChild) => { stage?: RecordStage; sinks?: RecordSink[]; onBadInput?: (dir: Direction) => void; extraStart?: Record<string, unknown>; stop?: () => Promise<Record<string, unknown>> };
}

export function exitCodeOf(code: number | null, signal: NodeJS.Signals | null): number {
  if (code !== null) return code;
  if (signal !== null) return 128 + (os.constants.signals[signal] ?? 0);
  return 1;
}

/** Run the proxy until the server is gone; resolves with the exit code to use. */
export function runStdioProxy(opts: StdioProxyOptions): Promise<number> {
  return new Promise((resolveExit) => {
    const startNs = process.hrtime.bigint();
    const logChild = opts.log.child({ session: opts.sessionId });
    let server: ChildProcess;
    try {
      server = spawn(opts.command, opts.args, { stdio: ['pipe', 'pipe', 'inherit'], shell: false });
    } catch (err) {
      process.stderr.write(`lsptap: cannot start ${JSON.stringify(opts.command)}: ${(err as Error).message}\n`);
      resolveExit(127);
      return;
    }
    const client = stdioClient();
    let spawnFailed = false;
    server.once('error', (err: NodeJS.ErrnoException) => {
      if (server.pid !== undefined) { logChild.error('server process error', { err: err.message }); return; }
      spawnFailed = true;
      const hint = err.code === 'ENOENT' ? 'not found; check the command after -- (and PATH)' : err.code === 'EACCES' ? 'permission denied; is it executable?' : err.message;
      process.stderr.write(`lsptap: cannot start ${JSON.stringify(opts.command)}: ${hint}\n`);
      logChild.error('server failed to start', { command: [opts.command, ...opts.args], code: err.code ?? null, reason: err.message });
      void opts.log.close().then(() => resolveExit(err.code === 'ENOENT' ? 127 : 126));
    });
    if (server.pid === undefined) return; // 'error' follows

    const attach = opts.onServerSpawned?.(server, logChild) ?? {};
    const session = new Session({ log: logChild, startNs, retainBodyMax: opts.retainBodyMax, stage: attach.stage, sinks: attach.sinks, onBadInput: attach.onBadInput });
    logChild.sessionStart({
      command: [opts.command, ...opts.args], serverPid: server.pid, version: VERSION, transport: 'stdio',
      logPath: opts.logPath, cwd: process.cwd(), startNs, ...(attach.extraStart ?? {}),
    });

    const serverIn = server.stdin!;
    const serverOut = server.stdout!;
    let endReason = 'server exited';
    let clientGone = false;
    let graceTimer: NodeJS.Timeout | null = null;
    let signalsSeen = 0;

    const escalate = (why: string): void => {
      if (graceTimer !== null || server.exitCode !== null || server.signalCode !== null) return;
      graceTimer = setTimeout(() => {
        logChild.warn('server still running; sending SIGTERM', { afterMs: opts.graceMs, why });
        server.kill('SIGTERM');
        graceTimer = setTimeout(() => {
          logChild.warn('server still running; sending SIGKILL', { afterMs: opts.graceMs, why });
          server.kill('SIGKILL');
        }, opts.graceMs);
        graceTimer.unref();
      }, opts.graceMs);
      graceTimer.unref();
    };

    new DirectionRelay(client.input, serverIn, (c, r, f) => session.observe('c2s', c, r, f), {
      onSourceEnd: (err) => {
        session.end('c2s');
        if (err !== null) logChild.warn('client input failed', { err: err.message });
        if (!clientGone) { clientGone = true; endReason = 'client closed its end'; }
        serverIn.end();
        escalate('client EOF');
      },
      onDestinationError: (err) => { logChild.warn('server stdin closed', { err: err.message }); },
      onObserverError: (err) => session.observerFailed(err),
    });
    new DirectionRelay(serverOut, client.output, (c, r, f) => session.observe('s2c', c, r, f), {
      onSourceEnd: () => { session.end('s2c'); serverOutEnded(); },
      onDestinationError: (err) => {
        logChild.warn('client went away (writing to it failed); closing the server\'s stdin', { err: err.message });
        clientGone = true;
        endReason = 'client went away';
        serverIn.end();
        escalate('client went away');
      },
      onObserverError: (err) => session.observerFailed(err),
    });

    let outEnded = false;
    let onOutEnded: (() => void) | null = null;
    const serverOutEnded = (): void => { outEnded = true; onOutEnded?.(); };

    const forward = (sig: NodeJS.Signals): void => {
      signalsSeen++;
      endReason = `${sig} forwarded to the server`;
      logChild.info('signal forwarded', { signal: sig, count: signalsSeen });
      if (signalsSeen > 1 && sig !== 'SIGHUP') server.kill('SIGKILL');
      else server.kill(sig);
    };
    // A bug of ours must not leave the log short: record it, flush synchronously, and exit
    // (the server sees EOF and ends as it would with a closed editor).
    process.once('uncaughtException', (err) => {
      logChild.error('lsptap internal error', { err: err.stack ?? String(err) });
      opts.log.flushSync();
      process.stderr.write(`lsptap: internal error: ${err.stack ?? String(err)}\n`);
      process.exit(70);
    });
    const signals: NodeJS.Signals[] = ['SIGINT', 'SIGTERM', 'SIGHUP'];
    for (const s of signals) process.on(s, forward);

    server.once('exit', (code, signal) => {
      if (spawnFailed) return;
      if (graceTimer !== null) clearTimeout(graceTimer);
      const finish = async (): Promise<void> => {
        const exitCode = exitCodeOf(code, signal);
        await drained(client.output, 2000);
        const extra = attach.stop !== undefined ? await attach.stop() : {};
        await session.finish({ exitCode: code, signal, reason: endReason, lsptapExitCode: exitCode, ...extra });
        if (opts.printSummary) {
          const rows = session.summary.rows();
          const kernel = formatKernelTable(rows);
          process.stderr.write(`\nlsptap: session summary (${opts.logPath ?? 'log on stderr'})\n${formatSummaryTable(rows)}`);
          if (kernel !== '') process.stderr.write(`\nlsptap: where the time went (kernel timing, p50 ms; README "Kernel timing")\n${kernel}`);
        }
        for (const s of signals) process.removeListener(s, forward);
        await opts.log.close();
        resolveExit(exitCode);
      };
      if (outEnded) { void finish(); return; }
      const t = setTimeout(() => { onOutEnded = null; void finish(); }, 1000);
      onOutEnded = () => { clearTimeout(t); onOutEnded = null; void finish(); };
    });
  });
}
