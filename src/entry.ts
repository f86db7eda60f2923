// What bin/lsptap runs. It decides from the command line alone whether lsptap stands in for
// gopls, and loads only what that needs: a plain `gopls version` through the shim loads
// neither pino nor the proxy. Everything else is cli.ts.

import path from 'node:path';
import { atTerminalWithNothing, isGoplsCommandLine } from './dropin/command-line';
import { guardStderr } from './proxy/stderr';
import { useWorkerFile } from './proxy/worker/analysis-thread';

/** workerFile: the analysis thread's code, when a test runs its own (default: lsptap's). */
export function main(argv: string[] = process.argv.slice(2), workerFile?: string): void {
  guardStderr(); // before anything can write to it (docs/hardening.md "Reliability")
  const invokedAs = path.basename(process.argv[1] ?? 'lsptap');
  const stdinIsTTY = (): boolean => process.stdin.isTTY === true;
  const atTerminal = atTerminalWithNothing(invokedAs, argv, stdinIsTTY);
  if (workerFile !== undefined) useWorkerFile(workerFile);
  if (!atTerminal && isGoplsCommandLine(invokedAs, argv)) {
    (require('./dropin/gopls-main') as typeof import('./dropin/gopls-main')).goplsMain(argv, invokedAs);
    return;
  }
  void (require('./cli') as typeof import('./cli')).main(argv);
}
