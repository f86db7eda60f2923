// Plays a Recording to a new server through lsptap itself (bin/lsptap as a child, so the
// replay writes its own log, with kernel timing where it runs). vscode-jsonrpc frames the
// messages both ways: this is the editor's side, not the proxy, so re-serialising the
// recorded bodies is allowed here. Client ids are the recorded ones (the editor chose them);
// the server's own requests get the recorded answers, matched by method and order.

import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { StreamMessageReader, StreamMessageWriter, type Message } from 'vscode-jsonrpc/node';
import type { MessageId } from '../model/frame';
import { idKey, type Recording } from './recording';
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
  /** Progress lines (stderr) go here. */
  note: (text: string) => void;
}

export interface ReplayResult {
  sent: number;
  requests: number;
  answered: number;
  errors: number;
  unanswered: { method: string; id: MessageId }[];
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
  const own = [...(opts.logPath !== null ? ['--log', opts.logPath] : ['--log-dir', opts.logDir]), '--bpf', opts.bpf, ...(opts.bodies ? ['--bodies'] : [])];
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
  const outstanding = new Map<string, { method: string; id: MessageId }>();
  const answerIndex = new Map<string, number>();
  const tokenMap = new Map<string, unknown>();
  const result: ReplayResult = { sent: 0, requests: 0, answered: 0, errors: 0, unanswered: [], serverRequests: 0, unrecorded: [], waitsTimedOut: 0, exitCode: null, durationMs: 0, logPath: opts.logPath };
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
      if (!outstanding.has(key)) return;
      outstanding.delete(key);
      result.answered++;
      if (m.error !== undefined) result.errors++;
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
    let body = opts.rewrite ? (opts.rewrite.apply(msg.body) as Record<string, unknown>) : msg.body;
    body = withServerTokens(body, msg.method, tokenMap);
    if (msg.kind === 'request' && msg.id !== null) { outstanding.set(idKey(msg.id), { method: msg.method, id: msg.id }); result.requests++; }
    await writer.write(body as unknown as Message).catch(() => undefined);
    result.sent++;
    prevSentAt = performance.now();
    if (msg.kind === 'request') opts.note(`  ${String(i + 1).padStart(4)}/${rec.messages.length} ${msg.method} (id ${String(msg.id)})`);
  }
  // A recording that ended without `exit`: wait for what is still out, then close as an editor would.
  if (!gone && rec.messages[rec.messages.length - 1]?.method !== 'exit') {
    for (const { id } of [...outstanding.values()]) await waitFor(id);
    child.stdin.end();
  }
  result.exitCode = await exited;
  reader.dispose();
  result.unanswered = [...outstanding.values()];
  result.durationMs = performance.now() - t0;
  result.logPath ??= findSessionLog(opts.logDir, child.pid);
  return result;
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
