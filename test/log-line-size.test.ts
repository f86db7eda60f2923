// No log line is lost to its size: a line bigger than the outlet's queue bound (a 4.5 MB
// didOpen kept by --bodies) is written, and every line after it too, through `session end`;
// a session with 1,000,000 distinct method names ends with a bounded summary and its
// `session end` (issue 24, finding 1).

import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { answerServerRequests } from '../src/demo/gopls-script';
import { connect, frame, goFixture, lspServer, messages, readLog, startLsptap, tmpDir, type LogLine, type Running } from './helpers/index';
import { MAX_QUEUED_BYTES } from '../src/sinks/log-outlet';
import { OTHER_METHODS, SUMMARY_LINE_ROWS, TRACKED_METHODS_MAX } from '../src/sinks/summary';

/** A Go file of about `bytes` bytes that gopls parses in no time: one function, then comments. */
function bigGoFile(bytes: number): string {
  const head = 'package main\n\nfunc Big() int { return 42 }\n\n';
  const line = `// ${'x'.repeat(76)}\n`;
  return head + line.repeat(Math.ceil((bytes - head.length) / line.length));
}

/** initialize, a didOpen of `text`, `hovers` hovers on Big, shutdown, exit, against gopls. */
async function bigOpenSession(run: Running, text: string, hovers: number): Promise<void> {
  const conn = connect(run.child);
  answerServerRequests(conn);
  const root = pathToFileURL(goFixture).href;
  const uri = pathToFileURL(path.join(goFixture, 'big.go')).href;
  await conn.sendRequest('initialize', { processId: null, rootUri: root, workspaceFolders: [{ uri: root, name: 'fixture' }], capabilities: {} });
  await conn.sendNotification('initialized', {});
  await conn.sendNotification('textDocument/didOpen', { textDocument: { uri, languageId: 'go', version: 1, text } });
  for (let i = 0; i < hovers; i++) await conn.sendRequest('textDocument/hover', { textDocument: { uri }, position: { line: 2, character: 6 } });
  await conn.sendRequest('shutdown');
  await conn.sendNotification('exit');
  const exit = await run.exited;
  assert.equal(exit.code, 0, run.stderr());
  conn.dispose();
}

function assertWholeLog(lines: LogLine[], text: string, hovers: number): void {
  const msgs = messages(lines);
  const open = msgs.find((m) => m.method === 'textDocument/didOpen');
  assert.ok(open !== undefined, 'the didOpen line is in the log');
  assert.equal((JSON.parse(open.body as string) as { params: { textDocument: { text: string } } }).params.textDocument.text, text, 'with its whole body');
  assert.equal(msgs.filter((m) => m.method === 'textDocument/hover' && m.kind === 'response').length, hovers, 'every hover answer after it');
  assert.ok(lines.some((l) => l.msg === 'summary'), 'the summary line');
  const end = lines.at(-1)!;
  assert.equal(end.msg, 'session end', 'the log ends with session end');
  assert.equal(end.logLinesDropped, 0);
}

const TEXT = bigGoFile(4.5e6);
const HOVERS = 5;

test('a 4.5 MB didOpen kept by --bodies is logged whole, and every line after it through session end', { timeout: 120_000 }, async (t) => {
  assert.ok(TEXT.length > MAX_QUEUED_BYTES, 'the line is bigger than the log queue bound');
  const log = path.join(tmpDir(t), 'log.jsonl');
  const run = startLsptap(t, ['--log', log, '--bodies', '--bodies-max', '30000000'], ['gopls'], { cwd: goFixture });
  await bigOpenSession(run, TEXT, HOVERS);
  assertWholeLog(readLog(log), TEXT, HOVERS);
});

test('a 4.5 MB didOpen kept by --bodies with --log - is written whole to stderr, and every line after it', { timeout: 120_000 }, async (t) => {
  const run = startLsptap(t, ['--log', '-', '--bodies', '--bodies-max', '30000000'], ['gopls'], { cwd: goFixture });
  await bigOpenSession(run, TEXT, HOVERS);
  const lines = run.stderr().split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as LogLine);
  assertWholeLog(lines, TEXT, HOVERS);
});

test('a session with 1,000,000 distinct method names ends with a bounded summary that says what it left out, and its session end', { timeout: 600_000 }, async (t) => {
  const log = path.join(tmpDir(t), 'log.jsonl');
  const run = startLsptap(t, ['--log', log], [process.execPath, lspServer]);
  const methods = 1_000_000;
  const stdin = run.child.stdin!;
  // A fixture client: raw frames, a thousand to a write, with backpressure.
  for (let i = 0; i < methods; i += 1000) {
    const parts: Buffer[] = [];
    for (let j = i; j < i + 1000; j++) parts.push(frame(`{"jsonrpc":"2.0","method":"test/m${j}","params":{}}`));
    if (!stdin.write(Buffer.concat(parts))) await new Promise((r) => stdin.once('drain', r));
  }
  stdin.write(frame('{"jsonrpc":"2.0","id":1,"method":"shutdown"}'));
  stdin.write(frame('{"jsonrpc":"2.0","method":"exit"}'));
  stdin.end();
  run.child.stdout!.resume();
  const exit = await run.exited;
  assert.equal(exit.code, 0, run.stderr());
  const tail = fs.readFileSync(log, 'utf8').split('\n').filter((l) => l.length > 0).slice(-3).map((l) => JSON.parse(l) as LogLine);
  const end = tail.at(-1)!;
  assert.equal(end.msg, 'session end');
  assert.equal(end.logLinesDropped, 0);
  const summary = tail.find((l) => l.msg === 'summary')!;
  for (const line of [summary, end]) {
    const rows = line.summary as { method: string; kind: string; count: number }[];
    assert.equal(rows.length, SUMMARY_LINE_ROWS, `${line.msg}: at most ${SUMMARY_LINE_ROWS} rows`);
    // Every message is counted: in a listed row or in the rows left out. The first
    // TRACKED_METHODS_MAX methods have rows of their own, the rest (and exit, and shutdown)
    // share one "(other methods)" row per kind.
    const omitted = line.summaryOmitted as { rows: number; count: number; reason: string };
    assert.equal(rows.reduce((s, r) => s + r.count, 0) + omitted.count, methods + 2, `${line.msg}: every message counted`);
    assert.equal(omitted.rows, TRACKED_METHODS_MAX + 2 - SUMMARY_LINE_ROWS, `${line.msg}: rows left out`);
    assert.match(omitted.reason, /first 1000 rows/);
    const other = rows.find((r) => r.method === OTHER_METHODS && r.kind === 'notification');
    assert.equal(other?.count, methods - TRACKED_METHODS_MAX + 1, `${line.msg}: the notifications past the tracked methods, and exit`);
    t.diagnostic(`${line.msg}: ${JSON.stringify(line).length} bytes`);
  }
});
