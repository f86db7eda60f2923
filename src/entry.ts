// What bin/lsptap runs. It decides from the command line alone whether lsptap stands in for
// gopls, and loads only what that needs: a plain `gopls version` through the shim loads
// neither pino nor the proxy. Everything else is cli.ts.

import path from 'node:path';
import { isGoplsCommandLine, runsSession } from './dropin/command-line';
import { guardStderr } from './proxy/stderr';
import { prestartAnalysisThread } from './proxy/analysis-thread';

export function main(argv: string[] = process.argv.slice(2)): void {
  guardStderr(); // before anything can write to it (README "Reliability")
  const invokedAs = path.basename(process.argv[1] ?? 'lsptap');
  // `lsptap` typed at a terminal with nothing after it wants usage, not a gopls session.
  const atTerminal = argv.length === 0 && invokedAs !== 'gopls' && process.stdin.isTTY === true;
  // The analysis thread's start overlaps the load of the rest of our code (analysis-thread.ts).
  if (!atTerminal && runsSession(invokedAs, argv)) prestartAnalysisThread();
  if (!atTerminal && isGoplsCommandLine(invokedAs, argv)) {
    (require('./dropin/gopls-main') as typeof import('./dropin/gopls-main')).goplsMain(argv, invokedAs);
    return;
  }
  void (require('./cli') as typeof import('./cli')).main(argv);
}
