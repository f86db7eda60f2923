// Plays a Recording to a new server through lsptap itself (bin/lsptap as a child, so the
// replay writes its own log, with kernel timing where it runs). vscode-jsonrpc frames the
// messages both ways: this is the editor's side, not the proxy, so re-serialising the
// recorded bodies is allowed here. Client ids are the recorded ones (the editor chose them);
// the server's own requests get the recorded answers, matched by method and order.
//
// The replay always ends: once the last message is sent (after `exit`, or after the
// responses a recording without `exit` still waits for), stdin is closed as an editor's
// would be, and the lsptap child ends its session as it does for any editor: --grace-ms for
// the server to leave, then SIGTERM, --grace-ms more, then SIGKILL (relay-session.ts).

import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { StreamMessageReader, StreamMessageWriter, type Message } from 'vscode-jsonrpc/node';
import type { MessageId } from '../model/frame';
import { bodyOf, idKey, type Recording } from './recording';
import type { RootRewrite } from './root-rewrite';

export type Pace = 'recorded' | 'asap';

export interface ReplayOptions {
  server: string[];
  /** --log PATH, or null for a new file in logDir (named by lsptap, found by its pid). */
  logPath: string | null;
  logDir: string;
  bpf: string;
  bodies: boolean;
  pace: Pace;
  rewrite: RootRewrite | null;
  cwd: string;
  /** Longest wait for one awaited response before sending on regardless. */
  waitMs: number;
  /** The child lsptap's --grace-ms: how long the server gets after stdin closes, before SIGTERM and again before SIGKILL. */
  graceMs: number;
  /** Progress lines (stderr) go here. */
  note: (text: string) => void;
}

export interface ReplayResult {
  sent: number;
  requests: number;
  answered: number;
  errors: number;
  unanswered: { method: string; id: MessageId }[];
  /** Requests answered with an error that had a result in the recording. */
  regressed: { method: string; id: MessageId; message: string }[];
  /** Client messages whose recorded line could not be read back when sent (the file changed). */
  unreadable: number;
  serverRequests: number;
  /** Server requests the recording had no answer for (answered with null). */
  unrecorded: string[];
  /** Awaited responses that did not come within waitMs. */
  waitsTimedOut: number;
  exitCode: number | null;
  durationMs: number;
  logPath: string | null;
}

const LSPTAP_BIN = path.join(__dirname, '..', '..', '..', 'bin', 'lsptap');

interface RequestMessage { id: MessageId; method: string; params?: unknown }
const isRequest = (m: Message): m is Message & RequestMessage => 'method' in m && 'id' in m && (m as { id: unknown }).id !== undefined && (m as { id: unknown }).id !== null;
const isResponse = (m: Message): m is Message & { id: MessageId; error?: unknown } => !('method' in m) && 'id' in m;

export async function replay(rec: Recording, opts: ReplayOptions): Promise<ReplayResult> {
  const t0 = performance.now();
  const own = [...(opts.logPath !== null ? ['--log', opts.logPath] : ['--log-dir', opts.logDir]), '--bpf', opts.bpf, '--grace-ms', String(opts.graceMs), ...(opts.bodies ? ['--bodies'] : [])];
  const child = spawn(process.execPath, [LSPTAP_BIN, ...own, '--', ...opts.server], { cwd: opts.cwd, stdio: ['pipe', 'pipe', 'inherit'] });
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code, sig) => resolve(code ?? (sig !== null ? 1 : null))));
  let gone = false;
  void exited.then(() => { gone = true; wakeAll(); });
  const reader = new StreamMessageReader(child.stdout);
  const writer = new StreamMessageWriter(child.stdin);
  child.stdin.on('error', () => { /* the server went away; the exit code says so */ });

  const arrivedAt = new Map<string, number>();
  const waiters = new Map<string, () => void>();
  const wakeAll = (): void => { for (const w of waiters.values()) w(); waiters.clear(); };
  const outstanding = new Map<string, { method: string; id: MessageId; recordedError: boolean | null }>();
  const answerIndex = new Map<string, number>();
  const tokenMap = new Map<string, unknown>();
  const result: ReplayResult = {
    sent: 0, requests: 0, answered: 0, errors: 0, unanswered: [], regressed: [], unreadable: 0, serverRequests: 0, unrecorded: [], waitsTimedOut: 0,
    exitCode: null, durationMs: 0, logPath: opts.logPath,
  };
  let progressCreates = 0;

  reader.listen((m) => {
    if (isRequest(m)) {
      result.serverRequests++;
      if (m.method === 'window/workDoneProgress/create') {
        const recorded = rec.progressTokens[progressCreates++];
        const token = (m.params as { token?: unknown } | undefined)?.token;
        if (recorded !== undefined) tokenMap.set(JSON.stringify(recorded), token);
      }
      const list = rec.answers.get(m.method);
      const k = answerIndex.get(m.method) ?? 0;
      answerIndex.set(m.method, k + 1);
      // More requests of a method than recorded: the last recorded answer stands for them.
      const recorded = list?.[Math.min(k, list.length - 1)];
      if (recorded === undefined) result.unrecorded.push(m.method);
      const answer = recorded === undefined ? { result: null } : 'error' in recorded ? { error: recorded.error } : { result: recorded.result ?? null };
      void writer.write({ jsonrpc: '2.0', id: m.id, ...(opts.rewrite ? (opts.rewrite.apply(answer) as object) : answer) } as Message).catch(() => undefined);
    } else if (isResponse(m)) {
      const key = idKey(m.id);
      const sent = outstanding.get(key);
      if (sent === undefined) return;
      outstanding.delete(key);
      result.answered++;
      if (m.error !== undefined) {
        result.errors++;
        if (sent.recordedError === false) result.regressed.push({ method: sent.method, id: sent.id, message: errorMessage(m.error) });
      }
      arrivedAt.set(key, performance.now());
      waiters.get(key)?.();
      waiters.delete(key);
    }
  });

  const waitFor = (id: MessageId): Promise<void> => {
    const key = idKey(id);
    if (arrivedAt.has(key) || gone || !outstanding.has(key)) return Promise.resolve();
    return new Promise<void>((resolve) => {
      const timer = setTimeout(() => { waiters.delete(key); result.waitsTimedOut++; resolve(); }, opts.waitMs);
      waiters.set(key, () => { clearTimeout(timer); resolve(); });
    });
  };
  const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

  let prevSentAt = performance.now();
  let noteAt = prevSentAt + PROGRESS_EVERY_MS;
  for (const [i, msg] of rec.messages.entries()) {
    if (gone) break;
    for (const id of msg.awaits) await waitFor(id);
    if (opts.pace === 'recorded') {
      let anchor = prevSentAt;
      for (const id of msg.awaits) anchor = Math.max(anchor, arrivedAt.get(idKey(id)) ?? 0);
      const wait = anchor + msg.gapMs - performance.now();
      if (wait > 0) await sleep(wait);
    }
    if (gone) break;
    const recorded = await bodyOf(msg).catch(() => null);
    if (recorded === null) { result.unreadable++; continue; }
    let body = opts.rewrite ? (opts.rewrite.apply(recorded) as Record<string, unknown>) : recorded;
    body = withServerTokens(body, msg.method, tokenMap);
    if (msg.kind === 'request' && msg.id !== null) { outstanding.set(idKey(msg.id), { method: msg.method, id: msg.id, recordedError: msg.recordedError }); result.requests++; }
    await writer.write(body as unknown as Message).catch(() => undefined);
    result.sent++;
    prevSentAt = performance.now();
    // A progress line now and then, not one per message (a day's recording has millions).
    if (prevSentAt >= noteAt) { opts.note(`lsptap replay: sent ${i + 1}/${rec.messages.length}`); noteAt = prevSentAt + PROGRESS_EVERY_MS; }
  }
  // A recording that ended without `exit`: wait for what is still out first. Then close as an
  // editor would, `exit` or not: the child's grace rules stop a server that stays.
  if (!gone && rec.messages[rec.messages.length - 1]?.method !== 'exit') {
    for (const { id } of [...outstanding.values()]) await waitFor(id);
  }
  child.stdin.end();
  result.exitCode = await exited;
  reader.dispose();
  result.unanswered = [...outstanding.values()].map(({ method, id }) => ({ method, id }));
  result.durationMs = performance.now() - t0;
  result.logPath ??= findSessionLog(opts.logDir, child.pid);
  return result;
}

const PROGRESS_EVERY_MS = 10_000;

function errorMessage(e: unknown): string {
  const m = (e as { message?: unknown } | null)?.message;
  return typeof m === 'string' ? m : JSON.stringify(e);
}

/** `window/workDoneProgress/cancel` names a token the server made: use the new server's. */
function withServerTokens(body: Record<string, unknown>, method: string, tokens: Map<string, unknown>): Record<string, unknown> {
  if (method !== 'window/workDoneProgress/cancel') return body;
  const params = body.params as { token?: unknown } | undefined;
  const mapped = params?.token === undefined ? undefined : tokens.get(JSON.stringify(params.token));
  return mapped === undefined ? body : { ...body, params: { ...params, token: mapped } };
}

/** lsptap names per-session files lsptap-STAMP-PID.jsonl; the replay's child has one. */
function findSessionLog(dir: string, pid: number | undefined): string | null {
  if (pid === undefined) return null;
  let names: string[];
  try { names = fs.readdirSync(dir); } catch { return null; }
  const mine = names.filter((n) => n.endsWith(`-${pid}.jsonl`)).sort();
  return mine.length > 0 ? path.join(dir, mine[mine.length - 1]) : null;
}
