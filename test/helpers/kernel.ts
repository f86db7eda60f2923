// Shared by the kernel timing tests (on top of test/helpers.ts): whether BPF can load here,
// with the reason when not, and a session through the real bin/lsptap with a jsonrpc client.

import { spawn, execFileSync, type ChildProcess } from 'node:child_process';
import { pathToFileURL } from 'node:url';
import { InitializeRequest, InitializedNotification, DidOpenTextDocumentNotification } from 'vscode-languageserver-protocol/node';
import { answerServerRequests } from '../../src/demo/gopls-script';
import fs from 'node:fs';
import path from 'node:path';
import assert from 'node:assert/strict';
import { createMessageConnection, StreamMessageReader, StreamMessageWriter, type MessageConnection } from 'vscode-jsonrpc/node';
import { LoadedProbes } from '../../src/probes/kernel-timing';
import { lsptapBin, fixtures, type LogLine } from './index';

export { readLog, type LogLine } from './index';
export const LSPTAP = lsptapBin;
export const FIXTURES = fixtures;
export const TIMING_SERVER = path.join(FIXTURES, 'timing-server.js');

let cached: string | false | undefined;

/** false when BPF loads here; else why not. Under CI=true, not loading is a failure. */
export function bpfSkipReason(): string | false {
  if (cached === undefined) {
    try {
      LoadedProbes.load().close();
      cached = false;
    } catch (err) {
      cached = `kernel timing cannot load here: ${(err as Error).message}`;
    }
  }
  if (cached !== false && process.env.CI === 'true') assert.fail(`CI=true, so kernel timing must load: ${cached}`);
  return cached;
}


export interface Run {
  child: ChildProcess;
  conn: MessageConnection;
  /** Every byte lsptap wrote to its stdout. */
  received: Buffer[];
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null; stderr: string }>;
}

/** Start `[prefix...] node bin/lsptap ARGS -- node timing-server.js` with a jsonrpc client. */
export function startSession(t: { after: (fn: () => void) => void }, lsptapArgs: string[], opts: { prefix?: string[]; lsptap?: string[]; server?: string[]; cwd?: string; env?: NodeJS.ProcessEnv } = {}): Run {
  // opts.lsptap: how to start lsptap instead of `node bin/lsptap` (an installed copy).
  const lsptap = opts.lsptap ?? [...(opts.prefix ?? [process.execPath]), LSPTAP];
  const server = opts.server ?? [process.execPath, TIMING_SERVER];
  const child = spawn(lsptap[0], [...lsptap.slice(1), ...lsptapArgs, '--', ...server], { stdio: ['pipe', 'pipe', 'pipe'], cwd: opts.cwd, env: opts.env });
  t.after(() => { if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL'); });
  const received: Buffer[] = [];
  child.stdout.on('data', (b: Buffer) => received.push(b));
  let stderr = '';
  child.stderr.on('data', (b: Buffer) => { stderr += b.toString(); });
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null; stderr: string }>((resolve) => {
    child.once('exit', (code, signal) => { child.stderr.once('end', () => resolve({ code, signal, stderr })); if (child.stderr.readableEnded) resolve({ code, signal, stderr }); });
  });
  const conn = createMessageConnection(new StreamMessageReader(child.stdout), new StreamMessageWriter(child.stdin));
  conn.listen();
  t.after(() => conn.dispose());
  return { child, conn, received, exited };
}

/** shutdown + exit, then wait for lsptap. */
export async function endSession(run: Run): Promise<{ code: number | null; signal: NodeJS.Signals | null; stderr: string }> {
  await run.conn.sendRequest('shutdown');
  await run.conn.sendNotification('exit');
  return run.exited;
}

/** The response line of the request with this id (c2s request, s2c response). */
export function responseLine(lines: LogLine[], id: number): LogLine {
  const l = lines.find((x) => x.msg === 'message' && x.dir === 's2c' && x.kind === 'response' && x.id === id);
  assert.ok(l !== undefined, `no response line for id ${id}`);
  return l;
}

export function kernelOf(line: LogLine): Record<string, number | null> {
  assert.ok(line.kernel !== undefined && line.kernel !== null, `no kernel field on ${JSON.stringify(line)}`);
  return line.kernel as Record<string, number | null>;
}

export function between(value: number | null | undefined, lo: number, hi: number, what: string): void {
  assert.ok(typeof value === 'number', `${what} is ${String(value)}`);
  assert.ok(value >= lo && value <= hi, `${what} = ${value}, expected within [${lo}, ${hi}]`);
}

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Why the real gopls cannot run here, or false; under CI=true a missing gopls fails. */
export function goplsSkip(): string | false {
  try { execFileSync('gopls', ['version'], { stdio: 'ignore' }); } catch {
    assert.ok(process.env.CI !== 'true', 'CI=true: gopls must be installed (scripts/setup.sh)');
    return 'gopls is not installed (scripts/setup.sh installs it)';
  }
  return false;
}

/**
 * Initialize the gopls behind `run` on the workspace `root` (answering its own requests as
 * an editor does) and open `file` in it; returns the document's uri and text.
 */
export async function openInGopls(run: Run, root: string, name: string, file: string): Promise<{ uri: string; text: string }> {
  answerServerRequests(run.conn);
  const rootUri = pathToFileURL(root).href;
  await run.conn.sendRequest(InitializeRequest.type, { processId: process.pid, rootUri, workspaceFolders: [{ uri: rootUri, name }], capabilities: { workspace: { configuration: true } } });
  await run.conn.sendNotification(InitializedNotification.type, {});
  const text = fs.readFileSync(file, 'utf8');
  const uri = pathToFileURL(file).href;
  await run.conn.sendNotification(DidOpenTextDocumentNotification.type, { textDocument: { uri, languageId: 'go', version: 1, text } });
  return { uri, text };
}
