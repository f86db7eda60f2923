// Shared by the kernel timing tests (on top of ./index): whether BPF can load here,
// with the reason when not, and a session through the real bin/lsptap with a jsonrpc client.

import { pathToFileURL } from 'node:url';
import { InitializeRequest, InitializedNotification, DidOpenTextDocumentNotification } from 'vscode-languageserver-protocol/node';
import { answerServerRequests } from '../../src/demo/gopls-script';
import fs from 'node:fs';
import path from 'node:path';
import assert from 'node:assert/strict';
import type { TestContext } from 'node:test';
import type { MessageConnection } from 'vscode-jsonrpc/node';
import { LoadedProbes } from '../../src/probes/kernel-timing';
import { connect, fixtures, lsptapBin, start, type Exit, type LogLine, type Running } from './index';

export const TIMING_SERVER = path.join(fixtures, 'timing-server.js');

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


export interface Run extends Running {
  conn: MessageConnection;
  /** Every byte lsptap wrote to its stdout. */
  received: Buffer[];
}

/**
 * `[prefix...] node bin/lsptap ARGS -- node timing-server.js` (or opts.server) with a jsonrpc
 * client; opts.lsptap starts lsptap another way (an installed copy, a patched entry). With
 * kernel timing asked for and a --log, it resolves once the log says kernel timing is on (or
 * off), since a session's first messages go without kernel fields while the probes load
 * beside the server; opts.early: at once (the test writes before the probes watch).
 */
export async function startSession(t: TestContext, lsptapArgs: string[], opts: { prefix?: string[]; lsptap?: string[]; server?: string[]; cwd?: string; env?: NodeJS.ProcessEnv; early?: boolean } = {}): Promise<Run> {
  const lsptap = opts.lsptap ?? [...(opts.prefix ?? [process.execPath]), lsptapBin];
  const server = opts.server ?? [process.execPath, TIMING_SERVER];
  const run = start(t, lsptap[0], [...lsptap.slice(1), ...lsptapArgs, '--', ...server], { cwd: opts.cwd, env: opts.env });
  const received: Buffer[] = [];
  run.child.stdout!.on('data', (b: Buffer) => received.push(b));
  const conn = connect(run.child);
  t.after(() => conn.dispose());
  const logAt = lsptapArgs.indexOf('--log');
  if (!opts.early && logAt >= 0 && !lsptapArgs.includes('--bpf=off')) await kernelDecided(lsptapArgs[logAt + 1], run);
  return { ...run, conn, received };
}

/** Until the log has `kernel timing on` or `kernel timing off`, or lsptap has exited. */
export async function kernelDecided(log: string, run: { exited: Promise<unknown> }): Promise<void> {
  let exited = false;
  void run.exited.then(() => { exited = true; });
  while (!exited) {
    let text = '';
    try { text = fs.readFileSync(log, 'utf8'); } catch { /* not yet */ }
    if (text.includes('"msg":"kernel timing on"') || text.includes('"msg":"kernel timing off"')) return;
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** shutdown + exit, then wait for lsptap. */
export async function endSession(run: Run): Promise<Exit & { stderr: string }> {
  await run.conn.sendRequest('shutdown');
  await run.conn.sendNotification('exit');
  return { ...await run.exited, stderr: run.stderr() };
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
