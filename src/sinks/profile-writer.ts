// Writes the profile file (format: model/profile-file.ts): mappings, functions and locations
// once each, then samples that name them by id. Bounded: a sample that would take the file
// past maxBytes is left out and counted, and the part ends with a "cut" line saying how much
// was left out. One synchronous write per batch of samples: the file is regular (never a
// pipe) and a batch comes once per drain, and sonic-boom's flushSync at close could land the
// buffered tail before a write still in flight (the header after the samples). A write that
// fails (a full disk) stops the file; what follows is counted as cut.

import fs from 'node:fs';
import {
  PROFILE_FILE_MAX_BYTES, profileFileFor,
  type ProfileFrame, type ProfileLine, type ProfileMapping, type ProfileSample,
} from '../model/profile-file';
import { openOwned } from './log-file';

/** What the writer writes to (a file; a test passes its own). write: false once it failed. */
export interface ProfileDest {
  write(text: string): boolean;
  flushSync(): void;
  end(): void;
}

/** An O_APPEND file: one writeSync per call (looping over a short write). */
class FileDest implements ProfileDest {
  private failed = false;

  constructor(private readonly fd: number) {}

  write(text: string): boolean {
    if (this.failed) return false;
    try {
      const bytes = Buffer.from(text, 'utf8');
      for (let at = 0; at < bytes.length;) at += fs.writeSync(this.fd, bytes, at, bytes.length - at);
      return true;
    } catch {
      this.failed = true;
      return false;
    }
  }

  flushSync(): void {}

  end(): void {
    fs.closeSync(this.fd);
  }
}

export interface ProfileWriterOptions {
  /** The sampling rate, recorded in the part's "session" line. */
  hz?: number | null;
  /** The log's session id (its lines' `session` field), recorded in the "session" line. */
  session?: string | null;
  maxBytes?: number;
}

export interface ProfileTotals {
  path: string | null;
  bytes: number;
  samples: number;
  count: number;
  valueNs: number;
  /** Left out at the size bound. */
  cutSamples: number;
  cutCount: number;
  cutValueNs: number;
}

const hexDigits = (n: bigint): string => n.toString(16);

/** Room kept for the closing "cut" line. */
const CUT_LINE_RESERVE = 128;

export class ProfileWriter {
  private readonly mappings = new Map<string, number>();
  private readonly functions = new Map<string, number>();
  private readonly locations = new Map<string, number>();
  private readonly locationKeys = new WeakMap<ProfileFrame, string>();
  private readonly maxBytes: number;
  private readonly totalsNow: ProfileTotals;
  private closed = false;
  private failed = false;

  constructor(private readonly dest: ProfileDest, path: string | null, options: ProfileWriterOptions = {}) {
    this.maxBytes = options.maxBytes ?? PROFILE_FILE_MAX_BYTES;
    this.totalsNow = { path, bytes: 0, samples: 0, count: 0, valueNs: 0, cutSamples: 0, cutCount: 0, cutValueNs: 0 };
    this.emit([{ t: 'session', startedAt: new Date().toISOString(), hz: options.hz ?? null, session: options.session ?? null }]);
  }

  /**
   * Opens (appending, 0600, not through a symlink) the profile file beside logFile, as
   * `<log minus .jsonl>.profile.jsonl`. Throws LogPathError as opening the log does.
   */
  static open(logFile: string, options: ProfileWriterOptions = {}): ProfileWriter {
    const path = profileFileFor(logFile);
    const fd = openOwned(path, fs.constants.O_WRONLY | fs.constants.O_APPEND | fs.constants.O_CREAT);
    return new ProfileWriter(new FileDest(fd), path, options);
  }

  get totals(): Readonly<ProfileTotals> {
    return this.totalsNow;
  }

  /** Writes samples (with whatever mappings, functions and locations they first use). */
  add(samples: readonly ProfileSample[]): void {
    if (this.closed) return;
    let text = '';
    let textBytes = 0;
    const written: ProfileSample[] = [];
    for (const s of samples) {
      const lines = this.failed ? null : this.linesFor(s, textBytes);
      if (lines === null) {
        this.countCut(s);
        continue;
      }
      text += lines;
      textBytes += Buffer.byteLength(lines);
      written.push(s);
    }
    if (text === '') return;
    if (this.dest.write(text)) {
      this.totalsNow.bytes += textBytes;
      for (const s of written) {
        this.totalsNow.samples++;
        this.totalsNow.count += s.count;
        this.totalsNow.valueNs += s.valueNs;
      }
    } else {
      this.failed = true; // the file stops here; the rest of the session is counted as cut
      for (const s of written) this.countCut(s);
    }
  }

  private countCut(s: ProfileSample): void {
    this.totalsNow.cutSamples++;
    this.totalsNow.cutCount += s.count;
    this.totalsNow.cutValueNs += s.valueNs;
  }

  /** Writes the cut line if anything was left out, flushes and closes the file. */
  close(): ProfileTotals {
    if (!this.closed) {
      this.closed = true;
      const t = this.totalsNow;
      if (t.cutSamples > 0) this.emit([{ t: 'cut', samples: t.cutSamples, count: t.cutCount, valueNs: t.cutValueNs }]);
      try {
        this.dest.flushSync();
        this.dest.end();
      } catch {
        // a full disk or a closed fd: what was written stays; the log says the session ended
      }
    }
    return this.totalsNow;
  }

  private emit(lines: ProfileLine[]): void {
    const text = lines.map((l) => `${JSON.stringify(l)}\n`).join('');
    this.totalsNow.bytes += Buffer.byteLength(text);
    this.dest.write(text);
  }

  /**
   * The lines one sample needs: new definitions first, then the sample. If it will not fit,
   * the caller drops it; so definitions are only kept once the sample is (see rollback).
   */
  private linesFor(s: ProfileSample, batchBytes: number): string | null {
    const added: [Map<string, number>, string][] = [];
    let defs = '';
    const idOf = (map: Map<string, number>, key: string, line: (i: number) => ProfileLine): number => {
      let i = map.get(key);
      if (i === undefined) {
        i = map.size + 1;
        map.set(key, i);
        added.push([map, key]);
        defs += `${JSON.stringify(line(i))}\n`;
      }
      return i;
    };
    const stack: number[] = [];
    for (const f of s.stack) stack.push(this.locationId(f, idOf));
    const sample: ProfileLine = {
      t: 'sample', kind: s.kind, ...(s.cause === undefined ? {} : { cause: s.cause }), method: s.method, id: s.id === null ? null : String(s.id),
      count: s.count, valueNs: Math.round(s.valueNs), stack,
    };
    const text = `${defs}${JSON.stringify(sample)}\n`;
    if (this.totalsNow.bytes + batchBytes + Buffer.byteLength(text) > this.maxBytes - CUT_LINE_RESERVE) {
      for (const [map, key] of added.reverse()) map.delete(key); // ids stay dense: last in, first out
      return null;
    }
    return text;
  }

  private locationId(f: ProfileFrame, idOf: (map: Map<string, number>, key: string, line: (i: number) => ProfileLine) => number): number {
    const key = this.locationKey(f);
    const known = this.locations.get(key);
    if (known !== undefined) return known;
    const mapping = f.mapping === null ? 0 : this.mappingId(f.mapping, idOf);
    const fn = f.fn === null ? 0 : idOf(this.functions, `${f.fn}\0${f.file ?? ''}`, (i) => ({ t: 'function', i, name: f.fn!, file: f.file }));
    return idOf(this.locations, key, (i) => ({ t: 'location', i, mapping, address: `0x${f.address.toString(16)}`, function: fn, line: f.line ?? 0 }));
  }

  /**
   * What makes a location: its mapping, address, function and line (the same pc may be
   * named apart as a leaf, pc, and as a return address, pc-1). Kept per frame object: the
   * namer hands out one object per pc, so a frame seen before costs one lookup.
   */
  private locationKey(f: ProfileFrame): string {
    let key = this.locationKeys.get(f);
    if (key === undefined) {
      const m = f.mapping === null ? '' : `${hexDigits(f.mapping.start)}:${hexDigits(f.mapping.limit)}:${hexDigits(f.mapping.offset)}:${f.mapping.file}`;
      key = `${m}\0${hexDigits(f.address)}\0${f.fn ?? ''}\0${f.file ?? ''}\0${f.line ?? 0}`;
      this.locationKeys.set(f, key);
    }
    return key;
  }

  private mappingId(m: ProfileMapping, idOf: (map: Map<string, number>, key: string, line: (i: number) => ProfileLine) => number): number {
    const hex = (n: bigint): string => `0x${n.toString(16)}`;
    return idOf(this.mappings, `${m.start}:${m.limit}:${m.offset}:${m.file}`, (i) => ({
      t: 'mapping', i, start: hex(m.start), limit: hex(m.limit), offset: hex(m.offset), file: m.file, buildId: m.buildId,
    }));
  }
}
