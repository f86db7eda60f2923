// Kernel timing on the real gopls: a references request makes gopls work, and the kernel
// must see that work as server CPU time.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { execFileSync } from 'node:child_process';
import { InitializeRequest, InitializedNotification, DidOpenTextDocumentNotification, ReferencesRequest, type Location } from 'vscode-languageserver-protocol/node';
import { answerServerRequests } from '../src/demo/gopls-script';
import { bpfSkipReason, tempDir, startSession, endSession, readLog, kernelOf, FIXTURES } from './helpers/kernel';

const MODULE = path.join(FIXTURES, 'gomod-kernel');

function goplsSkip(): string | false {
  try { execFileSync('gopls', ['version'], { stdio: 'ignore' }); } catch {
    assert.ok(process.env.CI !== 'true', 'CI=true: gopls must be installed (scripts/setup.sh)');
    return 'gopls is not installed (scripts/setup.sh installs it)';
  }
  return false;
}

const skip = bpfSkipReason() || goplsSkip();

test('gopls shows non-zero server CPU time for textDocument/references', { skip, timeout: 120_000 }, async (t) => {
  const log = path.join(tempDir(t), 'log.jsonl');
  const run = startSession(t, ['--log', log, '--bpf=require'], { server: ['gopls'], cwd: MODULE });
  answerServerRequests(run.conn);
  const root = pathToFileURL(MODULE).href;
  await run.conn.sendRequest(InitializeRequest.type, { processId: process.pid, rootUri: root, workspaceFolders: [{ uri: root, name: 'fixture' }], capabilities: { workspace: { configuration: true } } });
  await run.conn.sendNotification(InitializedNotification.type, {});
  const file = path.join(MODULE, 'shapes', 'shapes.go');
  const text = fs.readFileSync(file, 'utf8');
  const uri = pathToFileURL(file).href;
  await run.conn.sendNotification(DidOpenTextDocumentNotification.type, { textDocument: { uri, languageId: 'go', version: 1, text } });
  const before = text.slice(0, text.indexOf('func TotalArea') + 'func T'.length);
  const position = { line: before.split('\n').length - 1, character: before.length - before.lastIndexOf('\n') - 1 };
  const refs = await run.conn.sendRequest(ReferencesRequest.type, { textDocument: { uri }, position, context: { includeDeclaration: true } }) as Location[] | null;
  assert.ok(refs !== null && refs.length >= 4, `references: ${JSON.stringify(refs)}`);
  const end = await endSession(run);
  assert.equal(end.code, 0, end.stderr);
  const line = readLog(log).find((l) => l.msg === 'message' && l.kind === 'response' && l.method === 'textDocument/references');
  assert.ok(line !== undefined);
  const k = kernelOf(line);
  assert.ok(typeof k.serverCpuUs === 'number' && k.serverCpuUs > 0, `serverCpuUs ${String(k.serverCpuUs)}`);
  assert.ok(typeof k.serverUs === 'number' && k.serverUs > 0);
  assert.equal(typeof k.toServerPipeUs, 'number');
  assert.equal(typeof k.toEditorPipeUs, 'number');
});
