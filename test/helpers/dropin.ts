// Plumbing for the drop-in tests: a gopls daemon on a socket, an editor-like session on the
// small Go module fixture, and the shim in a temporary directory.

import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import type { TestContext } from 'node:test';
import type { MessageConnection } from 'vscode-jsonrpc/node';
import assert from 'node:assert/strict';
import { connect, goFixture, lsptapBin, start, waitFor, type Running } from './index';
import { which } from './capabilities';

export const realGopls = which('gopls');

export function isListening(p: string): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.connect({ path: p });
    s.once('connect', () => { s.destroy(); resolve(true); });
    s.once('error', () => resolve(false));
  });
}

/** `gopls serve -listen='unix;PATH'`, ready when the socket answers. */
export async function startDaemon(t: TestContext, sock: string): Promise<Running> {
  const d = start(t, realGopls ?? 'gopls', ['serve', `-listen=unix;${sock}`], { cwd: goFixture });
  let up = false;
  const t0 = Date.now();
  while (!up && Date.now() - t0 < 10000) {
    up = fs.existsSync(sock) && await isListening(sock);
    if (!up) await new Promise((r) => setTimeout(r, 50));
  }
  if (!up) throw new Error(`gopls daemon did not listen on ${sock}: ${d.stderr()}`);
  return d;
}

/** A directory holding the `gopls` shim (a symlink to bin/lsptap), as install-shim makes it. */
export function makeShimDir(dir: string): string {
  fs.mkdirSync(dir, { recursive: true });
  fs.symlinkSync(lsptapBin, path.join(dir, 'gopls'));
  return dir;
}

export interface FixtureAnswers { hover: string; definitionUri: string; definitionLine: number }

/** What an editor does with main.go open: initialize, open, hover on Greet, go to Shout. */
export async function fixtureSession(conn: MessageConnection, root = goFixture, beforeExit?: () => void): Promise<FixtureAnswers> {
  const rootUri = pathToFileURL(root).href;
  const file = path.join(root, 'main.go');
  const uri = pathToFileURL(file).href;
  const text = fs.readFileSync(file, 'utf8');
  const pos = (needle: string, delta: number): { line: number; character: number } => {
    const at = text.indexOf(needle) + delta;
    const before = text.slice(0, at);
    return { line: before.split('\n').length - 1, character: at - (before.lastIndexOf('\n') + 1) };
  };
  conn.onRequest(() => null);
  conn.onNotification(() => { /* diagnostics, logs */ });
  await conn.sendRequest('initialize', { processId: process.pid, rootUri, workspaceFolders: [{ uri: rootUri, name: 'fixture' }], capabilities: { workspace: { configuration: true } } });
  await conn.sendNotification('initialized', {});
  await conn.sendNotification('textDocument/didOpen', { textDocument: { uri, languageId: 'go', version: 1, text } });
  const hover = await conn.sendRequest<{ contents: { value: string } } | null>('textDocument/hover', { textDocument: { uri }, position: pos('g.Greet("world")', 3) });
  const def = await conn.sendRequest<Array<{ uri: string; range: { start: { line: number } } }>>('textDocument/definition', { textDocument: { uri }, position: pos('Shout(g.Greet', 1) });
  await conn.sendRequest('shutdown');
  beforeExit?.();
  await conn.sendNotification('exit');
  return { hover: hover?.contents.value ?? '', definitionUri: def[0]?.uri ?? '', definitionLine: def[0]?.range.start.line ?? -1 };
}

export async function waitForFile(p: string, timeoutMs: number): Promise<void> {
  await waitFor(() => fs.existsSync(p), timeoutMs, p);
}

/**
 * Two editors as `gopls -remote=REMOTE` (gopls's own forwarder, as a team's editors reach a
 * shared daemon) each run the fixture session and close; returns when both have exited, with
 * their pids, each hover already checked.
 */
export async function twoRemoteEditors(t: TestContext, remote: string): Promise<{ pids: number[] }> {
  const editors = [0, 1].map(() => start(t, realGopls!, [`-remote=${remote}`], { cwd: goFixture }));
  const conns = editors.map((e) => connect(e.child));
  const answers = await Promise.all(conns.map((c) => fixtureSession(c)));
  for (const e of editors) e.child.stdin!.end();
  await Promise.all(editors.map((e) => e.exited));
  for (const c of conns) c.dispose();
  for (const a of answers) assert.match(a.hover, /Greet\(name string\) string/);
  return { pids: editors.map((e) => e.child.pid!) };
}
