// lsptap standing in for gopls, from bin/lsptap (see entry.ts): run, then exit with the code,
// turning our own startup failures into one stderr sentence.

import { runGoplsMode } from './gopls-mode';
import { ServerNotFound } from './find-server';

export function goplsMain(argv: string[], invokedAs: string): void {
  runGoplsMode(argv, { invokedAs }).then((code) => process.exit(code), (err: Error) => {
    if (err instanceof ServerNotFound) { process.stderr.write(`${err.message}\n`); process.exit(127); }
    // Only a session opens a log, and then log-file is loaded already.
    const { LogPathError } = require('../sinks/log-file') as typeof import('../sinks/log-file');
    if (err instanceof LogPathError) { process.stderr.write(`${err.message}\n`); process.exit(2); }
    const { StartupError } = require('../proxy/kernel-option') as typeof import('../proxy/kernel-option');
    if (err instanceof StartupError) { process.stderr.write(`${err.message}\n`); process.exit(1); }
    process.stderr.write(`lsptap: internal error: ${err.stack ?? String(err)}\n`);
    process.exit(70);
  });
}
