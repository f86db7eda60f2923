// A session log recorded with --bodies, read back as the client's side of the session: the
// requests and notifications the editor sent, in order, each with what it waited for (the
// responses to earlier requests that had reached the editor before it was sent, and the
// editor's think time after them), plus the editor's answers to the server's own requests.

import type { MessageId } from '../model/frame';
import { readLogs } from '../report/log-reader';

export interface ClientMessage {
  kind: 'request' | 'notification';
  method: string;
  id: MessageId | null;
  /** The body as recorded, parsed. */
  body: Record<string, unknown>;
  /** Requests whose responses it followed in the recording (not already awaited by an earlier message). */
  awaits: MessageId[];
  /** Recorded ms between the later of (previous message sent, last awaited response) and this one. */
  gapMs: number;
}

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
}

export class RecordingError extends Error {}

interface Timed { line: Record<string, unknown>; atMs: number; order: number }

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
  const lines: Record<string, unknown>[] = [];
  let chosen = session;
  const cwds = new Map<string, string>();
  for await (const l of readLogs(files)) {
    if (!l.ok) continue;
    const v = l.value;
    const s = typeof v.session === 'string' ? v.session : '';
    if (v.msg === 'session start' && typeof v.cwd === 'string') cwds.set(s, v.cwd);
    if (v.msg !== 'message') continue;
    if (chosen === null && typeof v.body === 'string') chosen = s;
    if (s === chosen) lines.push(v);
  }
  if (chosen === null) throw new RecordingError(`lsptap replay: ${source} has no message bodies; record the session with --bodies`);
  if (lines.length === 0) throw new RecordingError(`lsptap replay: ${source} has no messages of session ${chosen}`);
  return { source, session: chosen, cwd: cwds.get(chosen) ?? null, ...clientSide(lines) };
}

/** The client's side of one session's message lines. */
export function clientSide(lines: Record<string, unknown>[]): Omit<Recording, 'source' | 'session' | 'cwd'> {
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

  const messages: ClientMessage[] = [];
  let next = 0;
  let prevAtMs: number | null = null;
  for (const s of sent) {
    const method = s.line.method as string;
    const id = idOf(s.line.id);
    const body = parseBody(s.line);
    if (body === null) {
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
    messages.push({ kind: s.line.kind as 'request' | 'notification', method, id, body, awaits, gapMs: Math.max(0, s.atMs - anchor) });
    prevAtMs = s.atMs;
  }
  return { messages, answers, progressTokens, withoutBody };
}
