// Session logs line by line, from files or stdin, streamed (a log of millions of lines is
// never held whole). Lines are cut from 1 MiB chunks with Buffer.indexOf, each with its byte
// offset in the file, so a reader can come back for one line later (replay reads a message's
// body when it sends it). A line that is not a JSON object is handed on as corrupt with its
// line number, so the report can say where and skip it. The last line counts even without
// its newline (a log cut mid-write ends that way: it is then corrupt).

import fs from 'node:fs';
import type { Readable } from 'node:stream';

export type LogLine =
  | { ok: true; source: string; lineNo: number; start: number; end: number; value: Record<string, unknown> }
  | { ok: false; source: string; lineNo: number; start: number; end: number; reason: string };

/** One line's text, its 1-based number, and the byte offsets of its first byte and of its end (the newline, or the end of the file). */
export interface TextLine { text: string; lineNo: number; start: number; end: number }

/** `-` is stdin. */
function open(source: string): Readable {
  return source === '-' ? process.stdin : fs.createReadStream(source, { highWaterMark: CHUNK_BYTES });
}

const CHUNK_BYTES = 1 << 20;
const NL = 0x0a;

/** The text of bytes [s, e) of `buf`, without a trailing \r (a CRLF line). */
function textOf(buf: Buffer, s: number, e: number): string {
  return buf.toString('utf8', s, e > s && buf[e - 1] === 0x0d ? e - 1 : e);
}

/** The lines of `source`, a chunk's worth at a time. */
export async function* readLineBatches(source: string): AsyncGenerator<TextLine[]> {
  const input = open(source);
  // The start of a line that did not end in its chunk, and where it began.
  let carry: Buffer[] = [];
  let carryStart = 0;
  let pos = 0;
  let lineNo = 0;
  try {
    for await (const chunk of input as AsyncIterable<Buffer>) {
      const batch: TextLine[] = [];
      let s = 0;
      let nl = chunk.indexOf(NL);
      while (nl >= 0) {
        lineNo++;
        if (carry.length > 0) {
          carry.push(chunk.subarray(0, nl));
          const whole = Buffer.concat(carry);
          batch.push({ text: textOf(whole, 0, whole.length), lineNo, start: carryStart, end: pos + nl });
          carry = [];
        } else {
          batch.push({ text: textOf(chunk, s, nl), lineNo, start: pos + s, end: pos + nl });
        }
        s = nl + 1;
        nl = chunk.indexOf(NL, s);
      }
      if (s < chunk.length) {
        if (carry.length === 0) carryStart = pos + s;
        // A copy: the stream may reuse its buffer.
        carry.push(Buffer.from(chunk.subarray(s)));
      }
      pos += chunk.length;
      if (batch.length > 0) yield batch;
    }
    if (carry.length > 0) {
      const whole = Buffer.concat(carry);
      yield [{ text: textOf(whole, 0, whole.length), lineNo: lineNo + 1, start: carryStart, end: pos }];
    }
  } finally {
    if (source !== '-') input.destroy();
  }
}

/** A line's JSON object, or why it is not one. */
export function parseLine(text: string): { value: Record<string, unknown> } | { reason: string } {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (err) {
    return { reason: `not JSON (${(err as Error).message})` };
  }
  if (value === null || typeof value !== 'object' || Array.isArray(value)) return { reason: 'not a JSON object' };
  return { value: value as Record<string, unknown> };
}

export async function* readLogs(sources: string[]): AsyncGenerator<LogLine> {
  for (const source of sources) {
    for await (const batch of readLineBatches(source)) {
      for (const { text, lineNo, start, end } of batch) {
        if (text.trim().length === 0) continue;
        const p = parseLine(text);
        if ('value' in p) yield { ok: true, source, lineNo, start, end, value: p.value };
        else yield { ok: false, source, lineNo, start, end, reason: p.reason };
      }
    }
  }
}

/** Bytes [start, end) of `file` as text: a line found by readLineBatches, read again. */
export async function readLineAt(file: string, start: number, end: number): Promise<string> {
  const fh = await fs.promises.open(file, 'r');
  try {
    const buf = Buffer.allocUnsafe(end - start);
    let got = 0;
    while (got < buf.length) {
      const { bytesRead } = await fh.read(buf, got, buf.length - got, start + got);
      if (bytesRead === 0) break;
      got += bytesRead;
    }
    return textOf(buf, 0, got);
  } finally {
    await fh.close();
  }
}
