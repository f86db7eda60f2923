// Kernel timing on the real gopls: a references request makes gopls work, and the kernel
// must see that work as server CPU time; documentSymbol on the standard library makes it
// wait for go list, and the kernel must say so.

import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { ReferencesRequest, DocumentSymbolRequest, type Location } from 'vscode-languageserver-protocol/node';
import { goRootSrc } from '../src/demo/gopls-script';
import type { KernelTiming } from '../src/model/record';
import { readLog, fixtures, tmpDir } from './helpers/index';
import { bpfSkipReason, openInGopls, startSession, endSession, kernelOf } from './helpers/kernel';
import { missingCommand, skipUnless } from './helpers/capabilities';

const MODULE = path.join(fixtures, 'gomod-kernel');

const skip = skipUnless(bpfSkipReason() || missingCommand('gopls')).skip;

test('gopls shows non-zero server CPU time for textDocument/references', { skip, timeout: 120_000 }, async (t) => {
  const log = path.join(tmpDir(t, { worldWritable: true }), 'log.jsonl');
  const run = await startSession(t, ['--log', log, '--bpf=require'], { server: ['gopls'], cwd: MODULE });
  const { uri, text } = await openInGopls(run, MODULE, 'fixture', path.join(MODULE, 'shapes', 'shapes.go'));
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

/** One session: open net/http/server.go, ask for its symbols; the checks every run must pass. */
async function documentSymbolSession(t: TestContext, srcRoot: string): Promise<{ within: number; said: string }> {
  const log = path.join(tmpDir(t, { worldWritable: true }), 'log.jsonl');
  const run = await startSession(t, ['--log', log, '--bpf=require'], { server: ['gopls'], cwd: srcRoot });
  const { uri } = await openInGopls(run, srcRoot, 'std', path.join(srcRoot, 'net', 'http', 'server.go'));
  const symbols = await run.conn.sendRequest(DocumentSymbolRequest.type, { textDocument: { uri } }) as unknown[] | null;
  assert.ok(symbols !== null && symbols.length > 100, `${symbols?.length} symbols`);
  const end = await endSession(run);
  assert.equal(end.code, 0, end.stderr);
  const lines = readLog(log);
  const answered = lines.filter((l) => l.msg === 'message' && l.dir === 's2c' && l.kind === 'response');
  assert.ok(answered.length >= 3);
  for (const l of answered) {
    const k = l.kernel as KernelTiming;
    if (k.serverBlockedUs === null || k.serverBlockedUs === undefined) continue;
    const parts = k.blockedOnChildUs! + k.blockedOnDiskUs! + k.blockedOtherUs!;
    assert.ok(Math.abs(parts - k.serverBlockedUs) <= 0.01 * k.serverBlockedUs, `${String(l.method)}: parts ${parts} vs serverBlockedUs ${k.serverBlockedUs}`);
  }
  const ds = answered.find((l) => l.method === 'textDocument/documentSymbol')!.kernel as KernelTiming;
  // The big go list, the one that loads the packages (gopls 0.5.0 asks for -json=Name,...).
  const goList = (ds.children ?? []).filter((c) => c.args[0] === 'go' && c.args[1] === 'list' && c.exitCode !== null).sort((a, b) => b.wallUs! - a.wallUs!)[0];
  assert.ok(goList !== undefined, `go list in ${JSON.stringify(ds.children?.map((c) => c.args.slice(0, 3)))}`);
  const within = Math.abs(ds.blockedOnChildUs! - goList.wallUs!) / goList.wallUs!;
  const busyUs = ds.serverUs! - ds.serverBlockedUs!; // gopls on a CPU or runnable, wall time
  const said = `blockedOnChildUs ${ds.blockedOnChildUs} vs go list's wall ${goList.wallUs} µs (${(within * 100).toFixed(1)} %), gopls busy ${busyUs} µs in the window, on disk ${ds.blockedOnDiskUs} µs`;
  t.diagnostic(said);
  // Always: while go list lives, gopls waits for it (or the disk) or is busy itself, and it
  // never waits for children longer than they live.
  assert.ok(ds.blockedOnChildUs! + ds.blockedOnDiskUs! + busyUs >= 0.9 * goList.wallUs!, said);
  const childrenWallUs = (ds.children ?? []).reduce((sum, c) => sum + (c.wallUs ?? 0), 0);
  assert.ok(ds.blockedOnChildUs! <= 1.1 * childrenWallUs, `${said}; all children's wall ${childrenWallUs} µs`);
  return { within, said };
}

test('gopls on the Go standard library: documentSymbol waits for its go list child, and every answered request\'s blocked parts add up', { skip, timeout: 280_000 }, async (t) => {
  const srcRoot = goRootSrc();
  // gopls only waits while its go list runs, so the wait is the go list's life within 10 %.
  // Once in a full test run (1 in ~10) gopls also computed for ~500 ms of a 1.8 s go list, on
  // a machine other tests had just loaded: a second session must then be within 10 %.
  const first = await documentSymbolSession(t, srcRoot);
  if (first.within <= 0.1) return;
  const second = await documentSymbolSession(t, srcRoot);
  assert.ok(second.within <= 0.1, `twice beyond 10 %: ${first.said}; then ${second.said}`);
});
