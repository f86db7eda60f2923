// Follows session logs as lsptap writes them: named files, or every *.jsonl in a directory
// (new files are picked up as they appear). Each poll reads what was appended since the
// last one and hands on complete lines; a partial last line waits for its end.
//
// What to read is learnt from the directory's inotify watch (fs.watch), so an idle poll
// costs nothing however many logs a month has left in the directory: only the files the
// kernel said changed are opened. Rescans back the watch up, because inotify can miss
// changes: it sees nothing another host writes on NFS, and when its queue overflows libuv
// drops the overflow without telling us. Two rates, since a stat costs ~7 µs here and a
// month is 50,000 logs:
// - every ACTIVE_RESCAN_MS (5 s; 1 s with no watch): one stat of the directory, listed
//   again only when its mtime moved (a log created or removed) or is under a second old
//   (the mtime's clock is coarse), and a stat of the active logs, those changed within
//   ACTIVE_MS (15 min): a handful, however large the directory;
// - every FULL_RESCAN_MS (10 min): a listing and a stat of every log, for an old log that
//   comes back to life unseen (0.65 s of CPU for 50,000 logs: 0.1 % of a core).
// No watch (the per-user inotify limit reached, a filesystem without it) only makes the
// first rate faster. Files named on the command line are few and read every poll.

import fs from 'node:fs';
import path from 'node:path';
import { isLogFileName } from '../report/log-sources';

export interface TailLine { source: string; value: Record<string, unknown> }

/** What one poll found: complete lines, and followed files that no longer exist. */
export interface TailBatch { lines: TailLine[]; gone: string[] }

/** The file system calls LogTail makes (tests inject counting or failing ones). */
export interface TailFs {
  readdir(dir: string): string[];
  /** Size and mtime, or undefined when the file is gone. */
  stat(file: string): { size: number; mtimeMs: number } | undefined;
  /** A descriptor; throws (ENOENT when gone). */
  open(file: string): number;
  size(fd: number): number;
  read(fd: number, buf: Buffer, length: number, position: number): number;
  close(fd: number): void;
  /** Calls onName for each changed entry (null: unknown which); throws when no watch can be set. */
  watch(dir: string, onName: (name: string | null) => void, onError: (err: Error) => void): { close(): void };
}

export const nodeTailFs: TailFs = {
  readdir: (dir) => fs.readdirSync(dir),
  stat: (file) => fs.statSync(file, { throwIfNoEntry: false }),
  open: (file) => fs.openSync(file, 'r'),
  size: (fd) => fs.fstatSync(fd).size,
  read: (fd, buf, length, position) => fs.readSync(fd, buf, 0, length, position),
  close: (fd) => fs.closeSync(fd),
  watch: (dir, onName, onError) => {
    // persistent: false: the view's refresh timer, not the watch, keeps the process alive.
    const w = fs.watch(dir, { persistent: false }, (_event, name) => onName(typeof name === 'string' ? name : null));
    w.on('error', onError);
    return w;
  },
};

export interface LogTailOptions {
  /** In a directory, files changed within this long before the start are read from their beginning. */
  recentMs: number;
  fs?: TailFs;
  now?: () => number;
  /** A line longer than this is skipped to its newline and counted (memory stays bounded). */
  lineMaxBytes?: number;
}

/** Largest slice read from one file per poll, so a big backlog cannot freeze the screen. */
const READ_MAX = 4 << 20;
/** The longest line kept: a `--bodies` line with a 4 MiB didOpen fits, escapes and all. */
export const LINE_MAX_BYTES = 16 << 20;
export const ACTIVE_RESCAN_MS = 5_000;
export const ACTIVE_RESCAN_UNWATCHED_MS = 1_000;
export const FULL_RESCAN_MS = 600_000;
/** A log changed within this long is active: stat'd at every active rescan. */
export const ACTIVE_MS = 15 * 60_000;
/** A directory mtime younger than this may hide a later change in the same clock tick. */
const DIR_MTIME_FRESH_MS = 1_000;

const NL = 0x0a;

interface Followed {
  offset: number;
  /** Bytes of the line not yet ended, copied out of the read buffer. */
  partial: Buffer[];
  partialBytes: number;
  /** Inside a line over the cap: drop bytes up to its newline. */
  skipping: boolean;
  /** Size seen by the last read or rescan. */
  size: number;
  /** When it was last seen changing (its mtime, or the time a change was read). */
  changedMs: number;
}

const fresh = (offset: number, changedMs: number): Followed => ({ offset, partial: [], partialBytes: 0, skipping: false, size: offset, changedMs });

interface WatchedDir { dir: string; watch: { close(): void } | null; mtimeMs: number }

export class LogTail {
  private readonly files = new Map<string, Followed>();
  private readonly named: string[];
  private readonly dirs: WatchedDir[];
  /** Files the watch says changed since the last poll. */
  private readonly dirty = new Set<string>();
  private readonly buf = Buffer.allocUnsafe(READ_MAX);
  private readonly fs: TailFs;
  private readonly now: () => number;
  private readonly lineMax: number;
  private lastActiveScanMs: number;
  private lastFullScanMs: number;
  /** Lines over the cap, skipped. */
  skippedLines = 0;

  constructor(dirs: string[], files: string[], opts: LogTailOptions) {
    this.fs = opts.fs ?? nodeTailFs;
    this.now = opts.now ?? Date.now;
    this.lineMax = opts.lineMaxBytes ?? LINE_MAX_BYTES;
    this.named = files;
    const startMs = this.now();
    for (const f of files) this.files.set(f, fresh(0, startMs));
    // Watch before listing, so nothing written in between is missed.
    // Resolved, so a followed file's directory is path.dirname of its name.
    this.dirs = dirs.map((d) => path.resolve(d)).map((dir) => ({ dir, watch: this.watch(dir), mtimeMs: this.fs.stat(dir)?.mtimeMs ?? 0 }));
    for (const { dir } of this.dirs) {
      for (const f of this.listDir(dir)) {
        const st = this.fs.stat(f);
        if (st === undefined) continue;
        const state = fresh(startMs - st.mtimeMs <= opts.recentMs ? 0 : st.size, st.mtimeMs);
        state.size = st.size;
        this.files.set(f, state);
        if (state.offset < st.size) this.dirty.add(f);
      }
    }
    this.lastActiveScanMs = startMs;
    this.lastFullScanMs = startMs;
  }

  get followed(): number { return this.files.size; }

  /** False when some directory could not be watched (its active logs are stat'd every second instead). */
  get watching(): boolean { return this.dirs.every((d) => d.watch !== null); }

  close(): void {
    for (const d of this.dirs) { d.watch?.close(); d.watch = null; }
  }

  poll(): TailBatch {
    const batch: TailBatch = { lines: [], gone: [] };
    const nowMs = this.now();
    if (this.dirs.length > 0) {
      if (nowMs - this.lastFullScanMs >= FULL_RESCAN_MS) {
        this.lastFullScanMs = this.lastActiveScanMs = nowMs;
        this.fullScan(batch);
      } else if (nowMs - this.lastActiveScanMs >= (this.watching ? ACTIVE_RESCAN_MS : ACTIVE_RESCAN_UNWATCHED_MS)) {
        this.lastActiveScanMs = nowMs;
        this.activeScan(nowMs, batch);
      }
    }
    for (const f of this.named) this.dirty.add(f);
    const todo = [...this.dirty];
    this.dirty.clear();
    for (const source of todo) {
      let state = this.files.get(source);
      if (state === undefined) { state = fresh(0, nowMs); this.files.set(source, state); }
      this.readNew(source, state, nowMs, batch);
    }
    return batch;
  }

  private watch(dir: string): { close(): void } | null {
    try {
      return this.fs.watch(dir, (name) => {
        if (name === null) { this.lastFullScanMs = -Infinity; return; } // unknown entry: rescan at the next poll
        if (isLogFileName(name)) this.dirty.add(path.join(dir, name));
      }, () => {
        // The watch broke (the directory went away, the queue overflowed): rescan from now on.
        const d = this.dirs.find((x) => x.dir === dir);
        if (d !== undefined) { d.watch?.close(); d.watch = null; }
        this.lastFullScanMs = -Infinity;
      });
    } catch {
      return null;
    }
  }

  private listDir(dir: string): string[] {
    try {
      // The same rule as report's: *.jsonl files directly inside, not the profile files.
      return this.fs.readdir(dir).filter(isLogFileName).sort().map((n) => path.join(dir, n));
    } catch {
      return [];
    }
  }

  /** The directories listed again where their mtime moved; the active logs stat'd. */
  private activeScan(nowMs: number, batch: TailBatch): void {
    for (const d of this.dirs) {
      const mtimeMs = this.fs.stat(d.dir)?.mtimeMs ?? 0;
      if (mtimeMs === d.mtimeMs && nowMs - mtimeMs >= DIR_MTIME_FRESH_MS) continue;
      d.mtimeMs = mtimeMs;
      this.relist(d.dir, batch);
    }
    for (const [f, state] of this.files) {
      if (nowMs - state.changedMs > ACTIVE_MS || this.dirty.has(f)) continue;
      const st = this.fs.stat(f);
      if (st !== undefined && st.size !== state.size) this.dirty.add(f);
    }
  }

  /** Every log in the directories listed and stat'd: new ones and those whose size moved are read. */
  private fullScan(batch: TailBatch): void {
    for (const d of this.dirs) {
      d.mtimeMs = this.fs.stat(d.dir)?.mtimeMs ?? 0;
      this.relist(d.dir, batch);
    }
    for (const [f, state] of this.files) {
      if (this.dirty.has(f)) continue;
      const st = this.fs.stat(f);
      if (st !== undefined && st.size !== state.size) this.dirty.add(f);
    }
  }

  /** New logs in dir become dirty; followed ones no longer there are gone. */
  private relist(dir: string, batch: TailBatch): void {
    const listed = new Set(this.listDir(dir));
    for (const f of listed) if (!this.files.has(f)) this.dirty.add(f);
    const named = new Set(this.named);
    for (const f of this.files.keys()) if (path.dirname(f) === dir && !listed.has(f) && !named.has(f)) this.forget(f, batch);
  }

  private forget(source: string, batch: TailBatch): void {
    this.files.delete(source);
    batch.gone.push(source);
  }

  private readNew(source: string, state: Followed, nowMs: number, batch: TailBatch): void {
    let fd: number;
    try {
      fd = this.fs.open(source);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT' && !this.named.includes(source)) this.forget(source, batch);
      return;
    }
    try {
      const size = this.fs.size(fd);
      if (size < state.offset) Object.assign(state, fresh(0, nowMs)); // truncated or replaced
      if (size !== state.size) state.changedMs = nowMs;
      state.size = size;
      if (state.offset >= size) return;
      const n = this.fs.read(fd, this.buf, Math.min(READ_MAX, size - state.offset), state.offset);
      state.offset += n;
      if (state.offset < size) this.dirty.add(source); // the rest at the next poll
      this.split(source, state, this.buf.subarray(0, n), batch.lines);
    } finally {
      this.fs.close(fd);
    }
  }

  /** Complete lines of data (after what is held of the line before) go out; the rest is held, up to the cap. */
  private split(source: string, state: Followed, data: Buffer, out: TailLine[]): void {
    let from = 0;
    if (state.skipping) {
      const nl = data.indexOf(NL);
      if (nl < 0) return;
      state.skipping = false;
      from = nl + 1;
    }
    for (;;) {
      const nl = data.indexOf(NL, from);
      if (nl < 0) break;
      let line: Buffer = data.subarray(from, nl);
      if (state.partialBytes > 0) {
        line = Buffer.concat([...state.partial, line]);
        state.partial = [];
        state.partialBytes = 0;
      }
      from = nl + 1;
      if (line.length > this.lineMax) { this.skippedLines++; continue; }
      if (line.length > 0) parseLine(source, line, out);
    }
    const rest = data.length - from;
    if (rest === 0) return;
    if (state.partialBytes + rest > this.lineMax) {
      // Too long to keep: drop it and what follows up to its newline.
      state.partial = [];
      state.partialBytes = 0;
      state.skipping = true;
      this.skippedLines++;
      return;
    }
    state.partial.push(Buffer.from(data.subarray(from))); // a copy: the read buffer is reused
    state.partialBytes += rest;
  }
}

function parseLine(source: string, line: Buffer, out: TailLine[]): void {
  try {
    const v: unknown = JSON.parse(line.toString('utf8'));
    if (v !== null && typeof v === 'object' && !Array.isArray(v)) out.push({ source, value: v as Record<string, unknown> });
  } catch { /* a corrupt line: `lsptap report` names it; the live view skips it */ }
}
