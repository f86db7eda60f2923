// What a LOG argument names, for report, diff, replay and top: `-` (stdin), a file, or a
// directory, which stands for the `*.jsonl` files directly inside it in name order (lsptap
// names them lsptap-STAMP-PID.jsonl, so that is the order they were started). Not recursive:
// the log directory is flat, and a subdirectory is where people put logs aside on purpose.
// A directory also keeps a month of logs off the command line (50,000 names overflow the
// shell's argument list).

import fs from 'node:fs';
import path from 'node:path';
import { UsageError } from '../model/errors';
import { PROFILE_FILE_SUFFIX } from '../model/profile-file';

export const LOG_SUFFIX = '.jsonl';

/** A session log's file name: `*.jsonl`, not a profile file beside one. */
export const isLogFileName = (name: string): boolean => name.endsWith(LOG_SUFFIX) && !name.endsWith(PROFILE_FILE_SUFFIX);

/** The `*.jsonl` files directly inside `dir`, in name order; not the profile files beside them. */
export function logFilesIn(dir: string): string[] {
  return fs.readdirSync(dir).filter(isLogFileName).sort().map((n) => path.join(dir, n));
}

/**
 * The files `sources` name, directories expanded; `command` prefixes the one-line error
 * (exit 2) for a source that cannot be read or a directory without logs.
 */
export function expandLogSources(command: string, sources: string[]): string[] {
  const out: string[] = [];
  for (const s of sources) {
    if (s === '-') { out.push(s); continue; }
    let files: string[] | null = null;
    try {
      fs.accessSync(s, fs.constants.R_OK);
      if (fs.statSync(s).isDirectory()) files = logFilesIn(s);
    } catch (err) {
      throw new UsageError(`lsptap ${command}: cannot read ${s}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
    }
    if (files === null) out.push(s);
    else if (files.length === 0) throw new UsageError(`lsptap ${command}: no *${LOG_SUFFIX} files in ${s}`);
    else for (const f of files) out.push(f);
  }
  return out;
}
