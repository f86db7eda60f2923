// Shared test plumbing: start the real bin/lsptap, talk to it with a real vscode-jsonrpc
// client, read its log. Every process and directory is cleaned up with t.after.

import { spawn, type ChildProcess, type SpawnOptions } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createHash } from 'node:crypto';
import type { TestContext } from 'node:test';
import { createMessageConnection, StreamMessageReader, StreamMessageWriter, type MessageConnection } from 'vscode-jsonrpc/node';
import { PROFILE_FILE_SUFFIX } from '../../src/model/profile-file';

export const repoRoot = path.resolve(__dirname, '..', '..', '..');
export const lsptapBin = path.join(repoRoot, 'bin', 'lsptap');
export const fixtures = path.join(repoRoot, 'test', 'fixtures');
export const goFixture = path.join(fixtures, 'gomod');
export const lspServer = path.join(fixtures, 'lsp-server.js');
export const rawServer = path.join(fixtures, 'raw-server.js');
export const teeServer = path.join(fixtures, 'tee-server.js');

export type LogLine = Record<string, unknown> & { msg: string; level: number };

/**
 * A temporary directory removed after the test; worldWritable: mode 0777, for tests that run
 * lsptap or a server as another user (nobody) that must write there.
 */
export function tmpDir(t: TestContext, opts: { worldWritable?: boolean } = {}): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'lsptap-test-'));
  if (opts.worldWritable === true) fs.chmodSync(dir, 0o777);
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
  return dir;
}

export interface Exit { code: number | null; signal: NodeJS.Signals | null }

export interface Running {
  child: ChildProcess;
  /** The exit, once the process exited and its stderr (when piped) ended. */
  exited: Promise<Exit>;
  stderr: () => string;
}

/**
 * Spawn a process with piped stdio in its own process group; the caller ends it. Tests use
 * start(), which ends it with the test; this is for helpers that run a whole session themselves.
 */
export function launch(cmd: string, args: string[], opts: SpawnOptions = {}): Running {
  // Its own process group, so cleanup also reaps servers that outlive a SIGKILLed lsptap.
  const child = spawn(cmd, args, { stdio: ['pipe', 'pipe', 'pipe'], detached: true, ...opts });
  let err = '';
  child.stderr?.setEncoding('utf8').on('data', (c: string) => { err += c; });
  const stderrEnded = child.stderr === null ? Promise.resolve() : new Promise<void>((resolve) => {
    child.stderr!.once('close', resolve);
  });
  const exited = new Promise<Exit>((resolve) => child.once('exit', (code, signal) => {
    void stderrEnded.then(() => resolve({ code, signal }));
  }));
  return { child, exited, stderr: () => err };
}

/** Kill a launched process's whole group, if it is still there. */
export function killGroup(r: Running): void {
  try { process.kill(-r.child.pid!, 'SIGKILL'); } catch { /* group already gone */ }
}

/** Start a process with piped stdio, killed with its group at test end if still alive. */
export function start(t: TestContext, cmd: string, args: string[], opts: SpawnOptions = {}): Running {
  const r = launch(cmd, args, opts);
  t.after(() => killGroup(r));
  return r;
}

/** Start bin/lsptap with the given lsptap options and server command. */
export function startLsptap(t: TestContext, lsptapArgs: string[], server: string[], opts: SpawnOptions = {}): Running {
  return start(t, process.execPath, [lsptapBin, ...lsptapArgs, '--', ...server], opts);
}

export function connect(child: ChildProcess): MessageConnection {
  const conn = createMessageConnection(new StreamMessageReader(child.stdout!), new StreamMessageWriter(child.stdin!));
  conn.listen();
  return conn;
}

/** The session logs in a log directory: its *.jsonl files but the profile files beside them. */
export function sessionLogs(dir: string): string[] {
  return fs.readdirSync(dir).filter((f) => f.endsWith('.jsonl') && !f.endsWith(PROFILE_FILE_SUFFIX)).sort();
}

export function readLog(file: string): LogLine[] {
  return fs.readFileSync(file, 'utf8').split('\n').filter((l) => l.length > 0).map((l) => JSON.parse(l) as LogLine);
}

export function messages(lines: LogLine[]): LogLine[] {
  return lines.filter((l) => l.msg === 'message');
}

export function sha256(buf: Buffer): string {
  return createHash('sha256').update(buf).digest('hex');
}

/** Frame a JSON-RPC body the way any LSP client does. */
export function frame(body: string | Buffer): Buffer {
  const b = typeof body === 'string' ? Buffer.from(body, 'utf8') : body;
  return Buffer.concat([Buffer.from(`Content-Length: ${b.length}\r\n\r\n`, 'latin1'), b]);
}

/** Collect everything a readable produces. */
export function collect(stream: NodeJS.ReadableStream): Promise<Buffer> {
  return new Promise((resolve) => {
    const parts: Buffer[] = [];
    stream.on('data', (c: Buffer) => parts.push(c));
    stream.on('end', () => resolve(Buffer.concat(parts)));
  });
}

/** A seeded PRNG so random chunkings can be replayed from a printed seed (the same one `lsptap diff` resamples with). */
export { seededRandom as rng } from '../../src/diff/bootstrap';

/** Wait until pred() holds, polling; fails after timeoutMs. */
export async function waitFor(pred: () => boolean, timeoutMs: number, what: string): Promise<void> {
  const t0 = Date.now();
  while (!pred()) {
    if (Date.now() - t0 > timeoutMs) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}
