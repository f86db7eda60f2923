// Where the session log goes: an explicit path, stderr, or a new file per session under the
// XDG state directory. Files are opened 0600 (directories 0700) without following a symlink,
// and a file owned by another user is refused: logs may hold source code.

import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

import { LogPathError } from '../model/errors';
import { pruneLogDir, type RetentionPolicy, type RetentionReport } from './log-retention';
export { LogPathError };

export interface LogTarget {
  /** File descriptor to write to (2 for stderr). */
  fd: number;
  /** The file's path, or null for stderr. */
  path: string | null;
  /** What retention removed from the log directory (a new file there only), else null. */
  retention: RetentionReport | null;
}

/** Directory for per-session logs: --log-dir, LSPTAP_LOG_DIR, $XDG_STATE_HOME/lsptap, ~/.local/state/lsptap. */
export function defaultLogDir(env: NodeJS.ProcessEnv): string {
  if (env.LSPTAP_LOG_DIR) return env.LSPTAP_LOG_DIR;
  const state = env.XDG_STATE_HOME && path.isAbsolute(env.XDG_STATE_HOME) ? env.XDG_STATE_HOME : path.join(os.homedir(), '.local', 'state');
  return path.join(state, 'lsptap');
}

function stamp(d: Date): string {
  const p = (n: number, w = 2): string => String(n).padStart(w, '0');
  return `${d.getFullYear()}${p(d.getMonth() + 1)}${p(d.getDate())}T${p(d.getHours())}${p(d.getMinutes())}${p(d.getSeconds())}-${p(d.getMilliseconds(), 3)}`;
}

/** Opens file 0600 without following a symlink; refuses one that is not a regular file or not ours. */
export function openOwned(file: string, flags: number): number {
  let fd: number;
  try {
    // O_NONBLOCK: opening a FIFO for writing would otherwise wait for a reader, and the
    // editor's server would never start. It changes nothing for a regular file.
    fd = fs.openSync(file, flags | fs.constants.O_NOFOLLOW | fs.constants.O_NONBLOCK, 0o600);
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    if (e.code === 'ENXIO') throw new LogPathError(`lsptap: refusing to log to ${file}: not a regular file.`);
    if (e.code === 'ELOOP') throw new LogPathError(`lsptap: refusing to log to ${file}: it is a symbolic link. Give a regular file with --log.`);
    throw new LogPathError(`lsptap: cannot open log file ${file}: ${e.message}. Choose another path with --log or --log-dir.`);
  }
  const st = fs.fstatSync(fd);
  const uid = process.getuid?.();
  if (uid !== undefined && st.uid !== uid) {
    fs.closeSync(fd);
    throw new LogPathError(`lsptap: refusing to log to ${file}: it belongs to uid ${st.uid}, not to you (uid ${uid}). Choose another path with --log.`);
  }
  if (!st.isFile()) {
    fs.closeSync(fd);
    throw new LogPathError(`lsptap: refusing to log to ${file}: not a regular file.`);
  }
  return fd;
}

/**
 * A second, non-blocking open file description of fd when it is a pipe, FIFO or terminal;
 * null otherwise: a socket (Node-spawned stdio) cannot be reopened, and a regular file never
 * blocks and must keep the offset it shares with the server. Why: the server inherits stderr
 * and libuv makes it blocking in the child, which is the same description as ours; a write to
 * a stderr nobody reads would then block the thread that makes it, and lsptap's exit with it
 * (libuv joins its thread pool at exit). Our own description does not change the server's.
 */
export function reopenNonBlocking(fd: number): number | null {
  try {
    const st = fs.fstatSync(fd);
    if (!st.isFIFO() && !st.isCharacterDevice()) return null;
    return fs.openSync(`/proc/self/fd/${fd}`, fs.constants.O_WRONLY | fs.constants.O_NONBLOCK);
  } catch {
    return null;
  }
}

/**
 * Open the log: `-` is stderr; a path is appended to (created 0600); no path means a new file
 * in dir, after which `retention` is applied to dir's session logs (log-retention.ts).
 */
export function openLogTarget(logOption: string | undefined, dir: string, pid: number, retention: RetentionPolicy | null = null): LogTarget {
  if (logOption === '-') return { fd: reopenNonBlocking(2) ?? 2, path: null, retention: null };
  if (logOption !== undefined) {
    const file = path.resolve(logOption);
    const fd = openOwned(file, fs.constants.O_WRONLY | fs.constants.O_APPEND | fs.constants.O_CREAT);
    return { fd, path: file, retention: null };
  }
  try {
    fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
  } catch (err) {
    throw new LogPathError(`lsptap: cannot create log directory ${dir}: ${(err as Error).message}. Set --log-dir or LSPTAP_LOG_DIR.`);
  }
  const file = path.join(dir, `lsptap-${stamp(new Date())}-${pid}.jsonl`);
  const fd = openOwned(file, fs.constants.O_WRONLY | fs.constants.O_APPEND | fs.constants.O_CREAT | fs.constants.O_EXCL);
  return { fd, path: file, retention: retention === null ? null : pruneLogDir(dir, retention, file) };
}
