// A session log recorded with --bodies, read back as the client's side of the session: the
// requests and notifications the editor sent, in order, each with what it waited for (the
// responses to earlier requests that had reached the editor before it was sent, and the
// editor's think time after them), plus the editor's answers to the server's own requests.
//
// The client's bodies stay in the file: a message keeps where its line is and the body is
// read back when it is sent (bodyOf), so a 1 GB recording of large didOpens costs memory for
// the message being sent, not for the recording. The editor's answers to the server's
// requests (small) and the server's progress tokens are kept parsed.

import type { MessageId } from '../model/frame';
import { parseLine, readLineAt, readLogs } from '../report/log-reader';

/** Where a line is: bytes [start, end) of file. */
export interface LinePlace { file: string; start: number; end: number }

export interface ClientMessage {
  kind: 'request' | 'notification';
  method: string;
  id: MessageId | null;
  /** The line that holds its body. */
  place: LinePlace;
  /** Requests whose responses it followed in the recording (not already awaited by an earlier message). */
  awaits: MessageId[];
  /** Recorded ms between the later of (previous message sent, last awaited response) and this one. */
  gapMs: number;
  /** A request's recorded response was an error (true) or a result (false); null: none recorded, or a notification. */
  recordedError: boolean | null;
}

/** A message line of the session and where it is; a client message's body may be `true` (in the file, not kept). */
export type PlacedLine = Record<string, unknown> & { place: LinePlace };

export interface Recording {
  source: string;
  session: string;
  /** The session's working directory (session start line), for the server's cwd. */
  cwd: string | null;
  messages: ClientMessage[];
  /** The editor's recorded answers to the server's requests, per method, in order (response bodies). */
  answers: Map<string, Record<string, unknown>[]>;
  /** `window/workDoneProgress/create` tokens the recorded server made, in order. */
  progressTokens: unknown[];
  /** Client messages whose body the log does not hold (over --bodies-max, or no --bodies). */
  withoutBody: { method: string; id: MessageId | null }[];
  /** Lines of the files that could not be read (cut mid-line, not JSON), and the first one's place. */
  corruptLines: number;
  firstCorrupt: string | null;
}

export class RecordingError extends Error {}

interface Timed { line: PlacedLine; atMs: number; order: number }

const num = (v: unknown): number | null => (typeof v === 'number' && Number.isFinite(v) ? v : null);
const idOf = (v: unknown): MessageId | null => (typeof v === 'number' || typeof v === 'string' ? v : null);
export const idKey = (id: MessageId): string => `${typeof id}:${String(id)}`;

function parseBody(line: Record<string, unknown>): Record<string, unknown> | null {
  if (typeof line.body !== 'string') return null;
  try {
    const v: unknown = JSON.parse(line.body);
    return v !== null && typeof v === 'object' && !Array.isArray(v) ? (v as Record<string, unknown>) : null;
  } catch {
    return null;
  }
}

/**
 * Read `files` (a LOG argument expanded, see log-sources), named `source` in messages;
 * `session` picks one session, else the first that has message bodies.
 */
export async function readRecording(source: string, files: string[], session: string | null): Promise<Recording> {
  // Until a session is chosen (the first with a body), each session's lines are kept, slim.
  const bySession = new Map<string, PlacedLine[]>();
  let chosen = session;
  const cwds = new Map<string, string>();
  let corruptLines = 0;
  let firstCorrupt: string | null = null;
  for await (const l of readLogs(files)) {
    if (!l.ok) { corruptLines++; firstCorrupt ??= `${l.source}:${l.lineNo}`; continue; }
    const v = l.value;
    const s = typeof v.session === 'string' ? v.session : '';
    if (v.msg === 'session start' && typeof v.cwd === 'string') cwds.set(s, v.cwd);
    if (v.msg !== 'message') continue;
    if (chosen === null && typeof v.body === 'string') {
      chosen = s;
      for (const other of bySession.keys()) if (other !== s) bySession.delete(other);
    }
    if (chosen !== null && s !== chosen) continue;
    let list = bySession.get(s);
    if (list === undefined) { list = []; bySession.set(s, list); }
    list.push(slim(v, { file: l.source, start: l.start, end: l.end }));
  }
  if (chosen === null) throw new RecordingError(`lsptap replay: ${source} has no message bodies; record the session with --bodies`);
  const lines = bySession.get(chosen) ?? [];
  if (lines.length === 0) throw new RecordingError(`lsptap replay: ${source} has no messages of session ${chosen}`);
  return { source, session: chosen, cwd: cwds.get(chosen) ?? null, corruptLines, firstCorrupt, ...clientSide(lines) };
}

/**
 * The fields clientSide reads. A client message's body is left in the file (`true`: it is
 * there); the editor's answers and the server's progress creates keep theirs (small); the
 * server's other bodies are dropped.
 */
function slim(v: Record<string, unknown>, place: LinePlace): PlacedLine {
  const { dir, kind, method, id, offset, firstByteMs, forwardedMs, isError } = v;
  const keep = (dir === 'c2s' && kind === 'response') || (dir === 's2c' && kind === 'request' && method === 'window/workDoneProgress/create');
  const body = typeof v.body !== 'string' ? undefined : keep ? v.body : dir === 'c2s' ? true : undefined;
  return { dir, kind, method, id, offset, firstByteMs, forwardedMs, isError, body, place };
}

/** The recorded body of `m`, read from its line; null when the line no longer holds one. */
export async function bodyOf(m: ClientMessage): Promise<Record<string, unknown> | null> {
  const p = parseLine(await readLineAt(m.place.file, m.place.start, m.place.end));
  return 'value' in p ? parseBody(p.value) : null;
}

/** The client's side of one session's message lines. */
export function clientSide(lines: PlacedLine[]): Omit<Recording, 'source' | 'session' | 'cwd' | 'corruptLines' | 'firstCorrupt'> {
  const sent: Timed[] = [];
  const answered: Timed[] = [];
  const answers = new Map<string, Record<string, unknown>[]>();
  const progressTokens: unknown[] = [];
  const withoutBody: Recording['withoutBody'] = [];
  const skipped = new Set<string>();
  lines.forEach((line, order) => {
    const method = typeof line.method === 'string' ? line.method : null;
    if (method === null) return;
    if (line.dir === 'c2s' && (line.kind === 'request' || line.kind === 'notification')) {
      sent.push({ line, atMs: num(line.firstByteMs) ?? 0, order });
    } else if (line.dir === 's2c' && line.kind === 'response') {
      answered.push({ line, atMs: num(line.forwardedMs) ?? 0, order });
    } else if (line.dir === 'c2s' && line.kind === 'response') {
      const body = parseBody(line);
      if (body === null) return;
      let list = answers.get(method);
      if (list === undefined) { list = []; answers.set(method, list); }
      list.push(body);
    } else if (line.dir === 's2c' && line.kind === 'request' && method === 'window/workDoneProgress/create') {
      const params = parseBody(line)?.params as { token?: unknown } | undefined;
      if (params?.token !== undefined) progressTokens.push(params.token);
    }
  });
  // The c2s stream is read in order, so its offsets give the order of sending.
  const byTime = (a: Timed, b: Timed): number => a.atMs - b.atMs || a.order - b.order;
  sent.sort((a, b) => (num(a.line.offset) ?? 0) - (num(b.line.offset) ?? 0) || a.order - b.order);
  answered.sort(byTime);

  const outcome = new Map<string, boolean>();
  for (const a of answered) { const rid = idOf(a.line.id); if (rid !== null) outcome.set(idKey(rid), a.line.isError === true); }

  const messages: ClientMessage[] = [];
  let next = 0;
  let prevAtMs: number | null = null;
  for (const s of sent) {
    const method = s.line.method as string;
    const id = idOf(s.line.id);
    if (s.line.body === undefined || s.line.body === null) {
      withoutBody.push({ method, id });
      if (s.line.kind === 'request' && id !== null) skipped.add(idKey(id));
      continue;
    }
    const awaits: MessageId[] = [];
    let anchor = prevAtMs ?? s.atMs;
    while (next < answered.length && answered[next].atMs <= s.atMs) {
      const rid = idOf(answered[next].line.id);
      if (rid !== null && !skipped.has(idKey(rid))) { awaits.push(rid); anchor = Math.max(anchor, answered[next].atMs); }
      next++;
    }
    const kind = s.line.kind as 'request' | 'notification';
    const recordedError = kind === 'request' && id !== null ? outcome.get(idKey(id)) ?? null : null;
    messages.push({ kind, method, id, place: s.line.place, awaits, gapMs: Math.max(0, s.atMs - anchor), recordedError });
    prevAtMs = s.atMs;
  }
  return { messages, answers, progressTokens, withoutBody };
}
