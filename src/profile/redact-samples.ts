// `lsptap profile --redact`: the samples with every path under the sessions' workspaces and
// the home directory replaced (model/redaction.ts's Redactor), before they are encoded.
// Frames and mappings are shared objects that the encoder numbers by identity, so each is
// redacted once and every sample that held it holds its one redacted copy.

import fs from 'node:fs';
import readline from 'node:readline';
import type { ProfileFrame, ProfileMapping, ProfileSample } from '../model/profile-file';
import type { Redactor } from '../model/redaction';

export function redactSamples(samples: readonly ProfileSample[], r: Redactor): ProfileSample[] {
  const mappings = new Map<ProfileMapping, ProfileMapping>();
  const frames = new Map<ProfileFrame, ProfileFrame>();
  const mapping = (m: ProfileMapping | null): ProfileMapping | null => {
    if (m === null) return null;
    let out = mappings.get(m);
    if (out === undefined) mappings.set(m, (out = { ...m, file: r.text(m.file) }));
    return out;
  };
  const frame = (f: ProfileFrame): ProfileFrame => {
    let out = frames.get(f);
    if (out === undefined) {
      out = { ...f, mapping: mapping(f.mapping), fn: f.fn === null ? null : r.text(f.fn), file: f.file === null ? null : r.text(f.file) };
      frames.set(f, out);
    }
    return out;
  };
  return samples.map((s) => ({ ...s, stack: s.stack.map(frame) }));
}

/** The workspaces the logs' sessions name (`session start` cwd, `session end` workspace). */
export async function workspacesOf(logs: readonly string[]): Promise<string[]> {
  const found = new Set<string>();
  for (const log of logs) {
    let input: fs.ReadStream;
    try { input = fs.createReadStream(log, 'utf8'); } catch { continue; }
    input.on('error', () => undefined);
    const lines = readline.createInterface({ input, crlfDelay: Infinity });
    try {
      for await (const line of lines) {
        if (!line.includes('"msg":"session ')) continue; // only session lines: skip the rest unparsed
        try {
          const l = JSON.parse(line) as { msg?: unknown; cwd?: unknown; workspace?: unknown };
          for (const dir of [l.cwd, l.workspace]) if (typeof dir === 'string' && dir !== '') found.add(dir);
        } catch { /* a corrupt line names no workspace */ }
      }
    } catch { /* unreadable log: nothing from it */ }
  }
  return [...found];
}
