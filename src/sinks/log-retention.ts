// Retention of the per-session log files in the log directory, as journald keeps its
// journals: at each lsptap start that logs into the directory, files last written more than
// maxDays ago are removed, then the oldest others until the directory's session logs take at
// most maxBytes. Only lsptap's own per-session files are touched (`lsptap-STAMP-PID.jsonl`,
// and the profile file beside it, `lsptap-STAMP-PID.profile.jsonl`, counted in the same
// bound and live while either is being written), never a file a live session is writing (the PID in its name is a running process that has
// it open; when that cannot be known, it counts as live). Old logs are not compressed: every
// reader (report, top, replay, diff, DuckDB) stays a plain JSONL reader.

import fs from 'node:fs';
import path from 'node:path';

export interface RetentionPolicy {
  /** Most bytes the directory's session logs may take; 0: no bound. */
  maxBytes: number;
  /** Logs last written longer ago than this many days are removed; 0: no bound. */
  maxDays: number;
}

export const DEFAULT_RETENTION: RetentionPolicy = { maxBytes: 1 << 30, maxDays: 30 };

/** What one pass removed and kept (session start's `logRetention`). */
export interface RetentionReport {
  removedFiles: number;
  removedBytes: number;
  keptFiles: number;
  keptBytes: number;
  /** Files a live session is writing, kept whatever their age or size. */
  liveFiles: number;
  /** Files that could not be removed (named in `failed`, at most 5). */
  failed: string[];
  maxBytes: number;
  maxDays: number;
}

/** lsptap's per-session log names (log-file.ts): the PID is the lsptap that writes it. */
const SESSION_LOG = /^(lsptap-\d{8}T\d{6}-\d{3}-(\d+))(\.profile)?\.jsonl$/;

const UNITS: Record<string, number> = { '': 1, K: 1024, M: 1024 ** 2, G: 1024 ** 3, T: 1024 ** 4 };

/** `1G`, `500M`, `64K`, `1048576` (binary units, as journald's SystemMaxUse); null when not a size. */
export function parseSize(text: string): number | null {
  const m = /^(\d+(?:\.\d+)?)\s*([KMGT]?)(?:i?B)?$/i.exec(text.trim());
  if (m === null) return null;
  return Math.floor(Number(m[1]) * UNITS[m[2].toUpperCase()]);
}

/** A whole number of days; null when not one. */
export function parseDays(text: string): number | null {
  return /^\d+$/.test(text.trim()) ? Number(text.trim()) : null;
}

/**
 * Is `file` being written by process `pid`? Yes when the process exists and one of its fds
 * is the file; also yes when that cannot be read (another user's process), so a file is
 * never removed from under a session.
 */
export function writtenBy(pid: number, file: string): boolean {
  try { process.kill(pid, 0); } catch (err) { if ((err as NodeJS.ErrnoException).code === 'ESRCH') return false; }
  let fds: string[];
  try { fds = fs.readdirSync(`/proc/${pid}/fd`); } catch (err) { return (err as NodeJS.ErrnoException).code !== 'ENOENT'; }
  for (const fd of fds) {
    try { if (fs.readlinkSync(`/proc/${pid}/fd/${fd}`) === file) return true; } catch { /* closed meanwhile */ }
  }
  return false;
}

interface Candidate { file: string; bytes: number; mtimeMs: number; live: boolean }

/** Apply the policy to dir's session logs; `own` (the file this session just opened) is live. */
export function pruneLogDir(dir: string, policy: RetentionPolicy, own: string | null, nowMs = Date.now(), isLive = writtenBy): RetentionReport {
  const report: RetentionReport = { removedFiles: 0, removedBytes: 0, keptFiles: 0, keptBytes: 0, liveFiles: 0, failed: [], maxBytes: policy.maxBytes, maxDays: policy.maxDays };
  let names: string[];
  try { names = fs.readdirSync(dir); } catch { return report; }
  const found: Candidate[] = [];
  for (const name of names) {
    const m = SESSION_LOG.exec(name);
    if (m === null) continue;
    const file = path.join(dir, name);
    let st: fs.Stats;
    try { st = fs.lstatSync(file); } catch { continue; }
    if (!st.isFile()) continue;
    const pid = Number(m[2]);
    const log = path.join(dir, `${m[1]}.jsonl`); // a profile file lives as long as its session's log
    const live = file === own || log === own || isLive(pid, file) || (m[3] !== undefined && isLive(pid, log));
    found.push({ file, bytes: st.size, mtimeMs: st.mtimeMs, live });
  }
  // Oldest first: by last write, then by name (which starts with the session's start).
  found.sort((a, b) => a.mtimeMs - b.mtimeMs || (a.file < b.file ? -1 : a.file > b.file ? 1 : 0));
  let total = found.reduce((s, c) => s + c.bytes, 0);
  const oldestKeptMs = policy.maxDays > 0 ? nowMs - policy.maxDays * 86_400_000 : -Infinity;
  for (const c of found) {
    if (c.live) { report.liveFiles++; continue; }
    const tooOld = c.mtimeMs < oldestKeptMs;
    const tooBig = policy.maxBytes > 0 && total > policy.maxBytes;
    if (!tooOld && !tooBig) continue;
    try {
      fs.unlinkSync(c.file);
      report.removedFiles++;
      report.removedBytes += c.bytes;
      total -= c.bytes;
      c.bytes = -1;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') { total -= c.bytes; c.bytes = -1; continue; } // another lsptap removed it
      if (report.failed.length < 5) report.failed.push(`${path.basename(c.file)}: ${(err as Error).message}`);
    }
  }
  for (const c of found) if (c.bytes >= 0) { report.keptFiles++; report.keptBytes += c.bytes; }
  return report;
}

/**
 * The policy from --log-dir-max / --log-dir-days, else LSPTAP_LOG_DIR_MAX /
 * LSPTAP_LOG_DIR_DAYS (how a shim or VS Code's alternateTools sets it), else the defaults;
 * a sentence naming the bad value when one is not a size or a number of days.
 */
export function resolveRetention(opts: { max?: string; days?: string }, env: NodeJS.ProcessEnv): RetentionPolicy | string {
  const maxText = opts.max ?? env.LSPTAP_LOG_DIR_MAX;
  const daysText = opts.days ?? env.LSPTAP_LOG_DIR_DAYS;
  const maxFrom = opts.max !== undefined ? '--log-dir-max' : 'LSPTAP_LOG_DIR_MAX';
  const daysFrom = opts.days !== undefined ? '--log-dir-days' : 'LSPTAP_LOG_DIR_DAYS';
  const maxBytes = maxText === undefined ? DEFAULT_RETENTION.maxBytes : parseSize(maxText);
  if (maxBytes === null) return `lsptap: ${maxFrom} needs a size such as 1G, 500M or 64K (0: no bound), got ${JSON.stringify(maxText)}`;
  const maxDays = daysText === undefined ? DEFAULT_RETENTION.maxDays : parseDays(daysText);
  if (maxDays === null) return `lsptap: ${daysFrom} needs a whole number of days (0: no bound), got ${JSON.stringify(daysText)}`;
  return { maxBytes, maxDays };
}
