// Follows session logs as lsptap writes them: named files, or every *.jsonl in a directory
// (new files are picked up as they appear). Each poll reads what was appended since the
// last one and hands on complete lines; a partial last line waits for its end. Polling,
// not fs.watch: lsptap appends through a batching writer a few times a second, inotify
// would add nothing at that pace, and polling behaves the same on every filesystem.

import fs from 'node:fs';
import { StringDecoder } from 'node:string_decoder';
import { logFilesIn } from '../report/log-sources';

export interface TailLine { source: string; value: Record<string, unknown> }

/** A chunk may end inside a UTF-8 character: the decoder keeps its first bytes. */
interface Followed { offset: number; partial: string; decoder: StringDecoder }

const fresh = (offset: number): Followed => ({ offset, partial: '', decoder: new StringDecoder('utf8') });

/** Largest slice read from one file per poll, so a big backlog cannot freeze the screen. */
const READ_MAX = 4 << 20;

export class LogTail {
  private readonly files = new Map<string, Followed>();
  private readonly buf = Buffer.allocUnsafe(READ_MAX);

  /**
   * `dir` and `files` name what to follow. In a directory, files changed within `recentMs`
   * before the start are read from their beginning (the sessions running now); older files
   * are followed from their end.
   */
  constructor(private readonly dirs: string[], files: string[], private readonly recentMs: number, nowMs = Date.now()) {
    for (const f of files) this.files.set(f, fresh(0));
    for (const dir of dirs) {
      for (const f of this.listDir(dir)) {
        const st = fs.statSync(f, { throwIfNoEntry: false });
        if (st === undefined) continue;
        this.files.set(f, fresh(nowMs - st.mtimeMs <= recentMs ? 0 : st.size));
      }
    }
  }

  get followed(): number { return this.files.size; }

  poll(): TailLine[] {
    for (const dir of this.dirs) for (const f of this.listDir(dir)) if (!this.files.has(f)) this.files.set(f, fresh(0));
    const out: TailLine[] = [];
    for (const [source, state] of this.files) this.readNew(source, state, out);
    return out;
  }

  private listDir(dir: string): string[] {
    try {
      return logFilesIn(dir);
    } catch {
      return [];
    }
  }

  private readNew(source: string, state: Followed, out: TailLine[]): void {
    let fd: number;
    try { fd = fs.openSync(source, 'r'); } catch { return; }
    try {
      const size = fs.fstatSync(fd).size;
      if (size < state.offset) Object.assign(state, fresh(0));  // truncated or replaced
      if (state.offset >= size) return;
      const n = fs.readSync(fd, this.buf, 0, Math.min(READ_MAX, size - state.offset), state.offset);
      state.offset += n;
      const lines = (state.partial + state.decoder.write(this.buf.subarray(0, n))).split('\n');
      state.partial = lines.pop() ?? '';
      for (const l of lines) {
        if (l.length === 0) continue;
        try {
          const v: unknown = JSON.parse(l);
          if (v !== null && typeof v === 'object' && !Array.isArray(v)) out.push({ source, value: v as Record<string, unknown> });
        } catch { /* a corrupt line: `lsptap report` names it; the live view skips it */ }
      }
    } finally {
      fs.closeSync(fd);
    }
  }
}
