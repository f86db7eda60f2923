// What bin/lsptap runs. It decides from the command line alone whether lsptap stands in for
// gopls, and loads only what that needs: a plain `gopls version` through the shim loads
// neither pino nor the proxy. Everything else is cli.ts.

import path from 'node:path';
import { atTerminalWithNothing, isGoplsCommandLine, runsSession } from './dropin/command-line';
import { guardStderr } from './proxy/stderr';
import { prestartAnalysisThread, adoptStartedThread } from './proxy/worker/analysis-thread';
import type { StartedThread } from './proxy/worker/thread-start';

/** started: the analysis thread bin/lsptap started before loading this (null: none wanted, undefined: decide here). */
export function main(argv: string[] = process.argv.slice(2), started?: StartedThread | null): void {
  guardStderr(); // before anything can write to it (docs/hardening.md "Reliability")
  const invokedAs = path.basename(process.argv[1] ?? 'lsptap');
  const stdinIsTTY = (): boolean => process.stdin.isTTY === true;
  const atTerminal = atTerminalWithNothing(invokedAs, argv, stdinIsTTY);
  // The analysis thread's start overlaps the load of the rest of our code (analysis-thread.ts).
  if (started !== undefined && started !== null) adoptStartedThread(started);
  else if (started === undefined && runsSession(invokedAs, argv, stdinIsTTY)) prestartAnalysisThread();
  if (!atTerminal && isGoplsCommandLine(invokedAs, argv)) {
    (require('./dropin/gopls-main') as typeof import('./dropin/gopls-main')).goplsMain(argv, invokedAs);
    return;
  }
  void (require('./cli') as typeof import('./cli')).main(argv);
}
