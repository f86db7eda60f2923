// lsptap's subcommands other than the proxy, loaded on use. The build bundles them apart
// (scripts/bundle.js, dist/src/bundle/subcommands.js): out of the main bundle, they cost a
// session's start nothing.

import { describeFailure } from './model/errors';
import { runDemo } from './demo/demo';
import { runReport } from './report/report-command';
import { runDiff } from './diff/diff-command';
import { runReplay } from './replay/replay-command';
import { runProfile } from './profile/profile-command';
import { runTop } from './top/top-command';

export type SubcommandName = 'demo' | 'report' | 'diff' | 'replay' | 'profile' | 'top';

const RUN: Record<SubcommandName, (argv: string[]) => Promise<number>> = {
  demo: runDemo, report: runReport, diff: runDiff, replay: runReplay, profile: (argv) => runProfile(argv), top: runTop,
};

/**
 * Run a subcommand to its exit code. Its failures are described here, by this bundle's own
 * error classes: in its own bundle, an instanceof test from cli.ts's would not hold.
 */
export async function runSubcommand(name: SubcommandName, argv: string[]): Promise<number> {
  try {
    return await RUN[name](argv);
  } catch (err) {
    const failure = describeFailure(err);
    process.stderr.write(`${failure.message}\n`);
    return failure.exitCode;
  }
}
