// Whether a test's outside pieces (a command, a server, the kernel) are here, and the one rule
// for when they are not: skip with the reason, except under CI=true, where the test runs and
// fails on the missing piece (CI installs everything through scripts/setup.sh).

import fs from 'node:fs';
import path from 'node:path';
import { spawnSync } from 'node:child_process';

/** The executable's path on PATH, or null. */
export function which(name: string): string | null {
  for (const dir of (process.env.PATH ?? '').split(':')) {
    const p = path.join(dir, name);
    try { fs.accessSync(p, fs.constants.X_OK); return p; } catch { /* next */ }
  }
  return null;
}

/** Why `cmd args` cannot run here, or null when it can. */
export function missingCommand(cmd: string, args: string[] = ['version']): string | null {
  const r = spawnSync(cmd, args, { stdio: 'ignore', timeout: 20_000 });
  return r.error !== undefined ? `${cmd} not available (${r.error.message}); run scripts/setup.sh` : null;
}

/** Why a named piece is missing, or null: for pieces found by other means than running them. */
export function missingUnless(what: string, present: boolean): string | null {
  return present ? null : `${what} is not installed; run scripts/setup.sh`;
}

/** `{ skip: reason }` when something is missing, `{}` otherwise or under CI=true. */
export function skipUnless(reason: string | null | false): { skip?: string } {
  if (reason === null || reason === false || process.env.CI === 'true') return {};
  return { skip: reason };
}
