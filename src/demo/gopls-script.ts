// A scripted editor session against gopls: what an editor does in the first minute with
// net/http/server.go open. Used by `lsptap demo`, by the tests and by the benchmark, so
// all three exercise the same real traffic.

import fs from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { execFileSync } from 'node:child_process';
import type { MessageConnection } from 'vscode-jsonrpc/node';
import {
  InitializeRequest, InitializedNotification, DidOpenTextDocumentNotification, DidChangeTextDocumentNotification,
  HoverRequest, DefinitionRequest, ReferencesRequest, DocumentSymbolRequest, CompletionRequest,
  ShutdownRequest, ExitNotification, ConfigurationRequest, WorkDoneProgressCreateRequest, RegistrationRequest,
  type Position,
} from 'vscode-languageserver-protocol/node';

export interface ScriptStep { method: string; ms: number; ok: boolean; detail: string }

/** GOROOT's src directory: a real Go codebase that golang-go installs. */
export function goRootSrc(): string {
  try {
    const root = execFileSync('go', ['env', 'GOROOT'], { encoding: 'utf8' }).trim();
    if (root && fs.existsSync(path.join(root, 'src', 'net', 'http', 'server.go'))) return path.join(root, 'src');
  } catch { /* fall through */ }
  return '/usr/lib/go-1.19/src';
}

function positionOf(text: string, needle: string, delta = 0): Position {
  const at = text.indexOf(needle);
  if (at < 0) throw new Error(`demo: ${JSON.stringify(needle)} not found in the file`);
  const before = text.slice(0, at + delta);
  const line = before.split('\n').length - 1;
  const character = before.length - (before.lastIndexOf('\n') + 1);
  return { line, character };
}

/** Answer the server's own requests the way an editor does, so the session is realistic. */
export function answerServerRequests(conn: MessageConnection): void {
  conn.onRequest(ConfigurationRequest.type, (p) => p.items.map(() => ({})));
  conn.onRequest(WorkDoneProgressCreateRequest.type, () => undefined);
  conn.onRequest(RegistrationRequest.type, () => undefined);
  conn.onRequest('window/showMessageRequest', () => null);
  conn.onNotification(() => { /* diagnostics, progress, logs: an editor would show them */ });
}

/** Run the script on an already listening connection; returns what each step took. */
export async function runGoplsScript(conn: MessageConnection, srcRoot: string, rounds = 1): Promise<ScriptStep[]> {
  const file = path.join(srcRoot, 'net', 'http', 'server.go');
  const uri = pathToFileURL(file).href;
  const text = fs.readFileSync(file, 'utf8');
  const steps: ScriptStep[] = [];
  const step = async <T>(method: string, fn: () => Promise<T>, describe: (r: T) => string): Promise<T> => {
    const t0 = process.hrtime.bigint();
    try {
      const r = await fn();
      steps.push({ method, ms: Number(process.hrtime.bigint() - t0) / 1e6, ok: true, detail: describe(r) });
      return r;
    } catch (err) {
      steps.push({ method, ms: Number(process.hrtime.bigint() - t0) / 1e6, ok: false, detail: (err as Error).message });
      return undefined as T;
    }
  };

  await step('initialize', () => conn.sendRequest(InitializeRequest.type, {
    processId: process.pid, rootUri: pathToFileURL(srcRoot).href,
    workspaceFolders: [{ uri: pathToFileURL(srcRoot).href, name: 'go-std' }],
    capabilities: {
      workspace: { configuration: true, workspaceFolders: true },
      window: { workDoneProgress: true },
      textDocument: { hover: { contentFormat: ['markdown', 'plaintext'] }, completion: { completionItem: { snippetSupport: false } }, documentSymbol: { hierarchicalDocumentSymbolSupport: true } },
    },
  }), (r) => `server ${r?.serverInfo?.name ?? 'gopls'}`);
  await conn.sendNotification(InitializedNotification.type, {});
  await conn.sendNotification(DidOpenTextDocumentNotification.type, { textDocument: { uri, languageId: 'go', version: 1, text } });

  const td = { uri };
  for (let round = 0; round < rounds; round++) {
    await step('textDocument/documentSymbol', () => conn.sendRequest(DocumentSymbolRequest.type, { textDocument: td }), (r) => `${r?.length ?? 0} symbols`);
    await step('textDocument/hover', () => conn.sendRequest(HoverRequest.type, { textDocument: td, position: positionOf(text, 'func (srv *Server) ListenAndServe', 10) }), (r) => (r ? 'hover on Server' : 'no hover'));
    await step('textDocument/hover', () => conn.sendRequest(HoverRequest.type, { textDocument: td, position: positionOf(text, 'net.Listen("tcp", addr)', 5) }), (r) => (r ? 'hover on net.Listen' : 'no hover'));
    await step('textDocument/definition', () => conn.sendRequest(DefinitionRequest.type, { textDocument: td, position: positionOf(text, 'net.Listen("tcp", addr)', 5) }), (r) => `${Array.isArray(r) ? r.length : r ? 1 : 0} location(s) in net`);
    await step('textDocument/definition', () => conn.sendRequest(DefinitionRequest.type, { textDocument: td, position: positionOf(text, 'srv.Serve(ln)', 5) }), (r) => `${Array.isArray(r) ? r.length : r ? 1 : 0} location(s)`);
    await step('textDocument/references', () => conn.sendRequest(ReferencesRequest.type, { textDocument: td, position: positionOf(text, 'func (srv *Server) ListenAndServe', 20), context: { includeDeclaration: true } }), (r) => `${r?.length ?? 0} references to ListenAndServe`);
  }

  // An edit, then completion after `srv.` as a person would type it.
  const anchor = 'func (srv *Server) ListenAndServe() error {\n';
  const pos = positionOf(text, anchor, anchor.length);
  await conn.sendNotification(DidChangeTextDocumentNotification.type, {
    textDocument: { uri, version: 2 },
    contentChanges: [{ range: { start: pos, end: pos }, text: '\tsrv.\n' }],
  });
  await step('textDocument/completion', () => conn.sendRequest(CompletionRequest.type, { textDocument: td, position: { line: pos.line, character: 5 } }), (r) => `${Array.isArray(r) ? r.length : r?.items?.length ?? 0} completions after srv.`);

  await step('shutdown', () => conn.sendRequest(ShutdownRequest.type), () => 'ok');
  await conn.sendNotification(ExitNotification.type);
  return steps;
}
