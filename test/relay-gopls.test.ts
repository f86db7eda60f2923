// Against the real gopls: lsptap forwards every byte unchanged and pairs every request.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import type { MessageConnection } from 'vscode-jsonrpc/node';
import { connect, goFixture, messages, readLog, sha256, start, startLsptap, teeServer, tmpDir, type Running } from './helpers/index';
import { answerServerRequests } from '../src/demo/gopls-script';

/** A short editor session on the fixture module; returns what the client sent and received. */
async function editorSession(run: Running): Promise<{ sent: Buffer; received: Buffer; requests: number }> {
  const sentParts: Buffer[] = [];
  const receivedParts: Buffer[] = [];
  const stdin = run.child.stdin!;
  const origWrite = stdin.write.bind(stdin) as (c: Buffer, ...a: unknown[]) => boolean;
  (stdin as unknown as { write: (c: Buffer | string, ...a: unknown[]) => boolean }).write = (c, ...a) => {
    sentParts.push(Buffer.isBuffer(c) ? Buffer.from(c) : Buffer.from(c, 'utf8'));
    return origWrite(Buffer.isBuffer(c) ? c : Buffer.from(c, 'utf8'), ...a);
  };
  run.child.stdout!.on('data', (c: Buffer) => receivedParts.push(c));
  const conn: MessageConnection = connect(run.child);
  answerServerRequests(conn);
  const root = pathToFileURL(goFixture).href;
  const file = path.join(goFixture, 'main.go');
  const uri = pathToFileURL(file).href;
  const text = fs.readFileSync(file, 'utf8');
  await conn.sendRequest('initialize', { processId: null, rootUri: root, workspaceFolders: [{ uri: root, name: 'fixture' }], capabilities: { workspace: { configuration: true }, window: { workDoneProgress: true } } });
  await conn.sendNotification('initialized', {});
  await conn.sendNotification('textDocument/didOpen', { textDocument: { uri, languageId: 'go', version: 1, text } });
  const line = text.split('\n').findIndex((l) => l.includes('g.Greet("world")'));
  const reqs: Promise<unknown>[] = [
    conn.sendRequest('textDocument/hover', { textDocument: { uri }, position: { line, character: 16 } }),
    conn.sendRequest('textDocument/definition', { textDocument: { uri }, position: { line, character: 16 } }),
    conn.sendRequest('textDocument/documentSymbol', { textDocument: { uri } }),
    conn.sendRequest('textDocument/references', { textDocument: { uri }, position: { line, character: 16 }, context: { includeDeclaration: true } }),
  ];
  const results = await Promise.all(reqs);
  assert.ok(results[0] !== null, 'gopls answered the hover');
  await conn.sendRequest('shutdown');
  await conn.sendNotification('exit');
  const exit = await run.exited;
  assert.equal(exit.code, 0, run.stderr());
  conn.dispose();
  return { sent: Buffer.concat(sentParts), received: Buffer.concat(receivedParts), requests: 6 };
}

test('relays a real gopls session byte for byte in both directions, as a direct connection does', { timeout: 120_000 }, async (t) => {
  const dir = tmpDir(t);
  // Direct: client -> tee -> gopls. The tee is the server-side witness.
  const directIn = path.join(dir, 'direct.in');
  const directOut = path.join(dir, 'direct.out');
  const direct = start(t, process.execPath, [teeServer, 'gopls'], { cwd: goFixture, env: { ...process.env, IN: directIn, OUT: directOut } });
  const d = await editorSession(direct);
  assert.equal(sha256(fs.readFileSync(directIn)), sha256(d.sent));
  assert.equal(sha256(fs.readFileSync(directOut)), sha256(d.received));

  // Through lsptap: client -> lsptap -> tee -> gopls.
  const inFile = path.join(dir, 'proxied.in');
  const outFile = path.join(dir, 'proxied.out');
  const log = path.join(dir, 'log.jsonl');
  const proxied = startLsptap(t, ['--log', log], [process.execPath, teeServer, 'gopls'], { cwd: goFixture, env: { ...process.env, IN: inFile, OUT: outFile } });
  const p = await editorSession(proxied);
  assert.ok(p.sent.length > 1000 && p.received.length > 1000);
  assert.equal(sha256(fs.readFileSync(inFile)), sha256(p.sent), 'server received exactly what the client sent');
  assert.equal(sha256(fs.readFileSync(outFile)), sha256(p.received), 'client received exactly what the server sent');

  // Pairing: every client request has exactly one response line carrying its method.
  const lines = readLog(log);
  const msgs = messages(lines);
  const requests = msgs.filter((m) => m.dir === 'c2s' && m.kind === 'request');
  assert.deepEqual(requests.map((m) => m.method), ['initialize', 'textDocument/hover', 'textDocument/definition', 'textDocument/documentSymbol', 'textDocument/references', 'shutdown']);
  for (const req of requests) {
    const resp = msgs.filter((m) => m.dir === 's2c' && m.kind === 'response' && m.id === req.id);
    assert.equal(resp.length, 1, `one response to ${String(req.method)}`);
    assert.equal(resp[0].method, req.method);
    assert.equal(typeof resp[0].latencyMs, 'number');
    assert.equal(resp[0].isError, false);
  }
  // gopls asks the client too (workspace/configuration...): those pair the other way.
  for (const req of msgs.filter((m) => m.dir === 's2c' && m.kind === 'request')) {
    assert.equal(msgs.filter((m) => m.dir === 'c2s' && m.kind === 'response' && m.id === req.id && m.method === req.method).length, 1, `client answered ${String(req.method)}`);
  }
  // No line lost: one message line per frame actually sent on each stream.
  const count = (b: Buffer): number => b.toString('latin1').split('Content-Length:').length - 1;
  assert.equal(msgs.filter((m) => m.dir === 'c2s').length, count(p.sent));
  assert.equal(msgs.filter((m) => m.dir === 's2c').length, count(p.received));
  assert.equal(lines.filter((l) => l.level >= 40).length, 0, 'no warnings on a clean session');
  const end = lines.at(-1)!;
  assert.equal(end.msg, 'session end');
  assert.equal(end.exitCode, 0);
  assert.deepEqual(end.unanswered, []);
  const rows = end.summary as Array<{ dir: string; method: string; count: number; p50Ms: number | null }>;
  assert.ok(rows.some((r) => r.dir === 'c2s' && r.method === 'textDocument/hover' && r.count === 1 && typeof r.p50Ms === 'number'));
  assert.ok(lines.some((l) => l.msg === 'summary' && l.trigger === 'exit notification'));
});
