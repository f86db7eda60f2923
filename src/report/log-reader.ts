// Session logs line by line, from files or stdin, streamed (a log of millions of lines is
// never held whole). A line that is not a JSON object is handed on as corrupt with its
// line number, so the report can say where and skip it.

import fs from 'node:fs';
import readline from 'node:readline';
import type { Readable } from 'node:stream';

export type LogLine =
  | { ok: true; source: string; lineNo: number; value: Record<string, unknown> }
  | { ok: false; source: string; lineNo: number; reason: string };

/** `-` is stdin. */
function open(source: string): Readable {
  return source === '-' ? process.stdin : fs.createReadStream(source);
}

export async function* readLogs(sources: string[]): AsyncGenerator<LogLine> {
  for (const source of sources) {
    const input = open(source);
    const lines = readline.createInterface({ input, crlfDelay: Infinity });
    let lineNo = 0;
    try {
      for await (const text of lines) {
        lineNo++;
        if (text.trim().length === 0) continue;
        let value: unknown;
        try {
          value = JSON.parse(text);
        } catch (err) {
          yield { ok: false, source, lineNo, reason: `not JSON (${(err as Error).message})` };
          continue;
        }
        if (value === null || typeof value !== 'object' || Array.isArray(value)) {
          yield { ok: false, source, lineNo, reason: 'not a JSON object' };
          continue;
        }
        yield { ok: true, source, lineNo, value: value as Record<string, unknown> };
      }
    } finally {
      lines.close();
      if (source !== '-') input.destroy();
    }
  }
}
