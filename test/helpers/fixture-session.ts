// A real editor session against the real gopls on the small Go module in
// test/fixtures/gomod-report, through the real lsptap binary: what the report, metrics, schema and
// DuckDB tests read. Much faster than the demo's Go standard library session.

import type { ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import type { MessageConnection } from 'vscode-jsonrpc/node';
import {
  InitializeRequest, InitializedNotification, DidOpenTextDocumentNotification, HoverRequest, DefinitionRequest,
  DocumentSymbolRequest, ReferencesRequest, CompletionRequest, ShutdownRequest, ExitNotification, type Position,
} from 'vscode-languageserver-protocol/node';
import { answerServerRequests } from '../../src/demo/gopls-script';
import { connect, killGroup, launch, lsptapBin, repoRoot } from './index';

export const FIXTURE_MODULE = path.join(repoRoot, 'test', 'fixtures', 'gomod-report');

export interface FixtureSessionOptions {
  logPath: string;
  hovers?: number;
  /** Extra lsptap options before `--`. */
  lsptapArgs?: string[];
  /** Runs after the requests, before shutdown (the metrics test scrapes here). */
  beforeShutdown?: () => Promise<void>;
  /** Collect lsptap's stderr (--summary's tables) instead of passing it through. */
  captureStderr?: boolean;
}

export interface FixtureSessionResult { exitCode: number | null; hoverCount: number; lsptap: ChildProcess; stderr: string }

function positionOf(text: string, needle: string, delta = 0): Position {
  const at = text.indexOf(needle);
  if (at < 0) throw new Error(`fixture: ${JSON.stringify(needle)} not in the file`);
  const before = text.slice(0, at + delta);
  return { line: before.split('\n').length - 1, character: before.length - (before.lastIndexOf('\n') + 1) };
}

async function script(conn: MessageConnection, hovers: number): Promise<number> {
  const root = pathToFileURL(FIXTURE_MODULE).href;
  const file = path.join(FIXTURE_MODULE, 'main.go');
  const uri = pathToFileURL(file).href;
  const text = fs.readFileSync(file, 'utf8');
  await conn.sendRequest(InitializeRequest.type, {
    processId: process.pid, rootUri: root, workspaceFolders: [{ uri: root, name: 'fixture' }],
    capabilities: { workspace: { configuration: true }, window: { workDoneProgress: true }, textDocument: { hover: { contentFormat: ['markdown'] } } },
  });
  await conn.sendNotification(InitializedNotification.type, {});
  await conn.sendNotification(DidOpenTextDocumentNotification.type, { textDocument: { uri, languageId: 'go', version: 1, text } });
  const td = { uri };
  await conn.sendRequest(DocumentSymbolRequest.type, { textDocument: td });
  const targets = [positionOf(text, 'shapes.Shape) float64', 8), positionOf(text, 's.Area()', 3), positionOf(text, 'fmt.Println', 5), positionOf(text, 'Total(all)', 1)];
  for (let i = 0; i < hovers; i++) await conn.sendRequest(HoverRequest.type, { textDocument: td, position: targets[i % targets.length] });
  await conn.sendRequest(DefinitionRequest.type, { textDocument: td, position: positionOf(text, 's.Area()', 3) });
  await conn.sendRequest(ReferencesRequest.type, { textDocument: td, position: positionOf(text, 'func Total', 6), context: { includeDeclaration: true } });
  await conn.sendRequest(CompletionRequest.type, { textDocument: td, position: positionOf(text, 'fmt.Println', 4) });
  return hovers;
}

/** Run one gopls session through lsptap on the fixture module; resolves when lsptap exited. */
export async function runFixtureSession(opts: FixtureSessionOptions): Promise<FixtureSessionResult> {
  const run = launch(process.execPath, [lsptapBin, '--log', opts.logPath, ...(opts.lsptapArgs ?? []), '--', 'gopls'], {
    cwd: FIXTURE_MODULE, stdio: ['pipe', 'pipe', opts.captureStderr === true ? 'pipe' : 'inherit'], env: { ...process.env, GOPROXY: 'off', GOFLAGS: '-mod=mod' },
  });
  const conn = connect(run.child);
  answerServerRequests(conn);
  try {
    const hoverCount = await script(conn, opts.hovers ?? 8);
    if (opts.beforeShutdown !== undefined) await opts.beforeShutdown();
    await conn.sendRequest(ShutdownRequest.type);
    await conn.sendNotification(ExitNotification.type);
    const { code } = await run.exited;
    return { exitCode: code, hoverCount, lsptap: run.child, stderr: run.stderr() };
  } finally {
    conn.dispose();
    killGroup(run);
  }
}
