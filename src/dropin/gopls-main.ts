// lsptap standing in for gopls, from bin/lsptap (see entry.ts): run, then exit with the code,
// turning our own startup failures into one stderr sentence (model/errors.ts maps them).

import { runGoplsMode } from './gopls-mode';
import { describeFailure } from '../model/errors';

export function goplsMain(argv: string[], invokedAs: string): void {
  runGoplsMode(argv, { invokedAs }).then((code) => process.exit(code), (err: unknown) => {
    const { message, exitCode } = describeFailure(err);
    process.stderr.write(`${message}\n`);
    process.exit(exitCode);
  });
}
