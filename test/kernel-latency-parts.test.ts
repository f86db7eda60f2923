// The clocks a user compares: with kernel timing a response's latencyMs comes from the
// kernel's stamps of lsptap's own syscalls, so it is never smaller than a part of it and
// its parts add up to it, even on a loaded machine; the editor -> lsptap pipe has its own
// field; and `startTime + firstByteMs` is the wall clock at which the editor wrote.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { spawn } from 'node:child_process';
import { HoverRequest, DefinitionRequest, ReferencesRequest, DocumentSymbolRequest } from 'vscode-languageserver-protocol/node';
import { readLog, fixtures, type LogLine, tmpDir } from './helpers/index';
import { bpfSkipReason, openInGopls, startSession, endSession, responseLine, kernelOf, between, sleep, kernelDecided } from './helpers/kernel';
import { missingCommand, skipUnless } from './helpers/capabilities';

const MODULE = path.join(fixtures, 'gomod-kernel');
const skip = bpfSkipReason();

/** One busy loop per core for the length of the test: the load under which JS stamps went wrong. */
function loadBothCores(t: { after: (fn: () => void) => void }): void {
  for (let i = 0; i < 2; i++) {
    const spinner = spawn(process.execPath, ['-e', 'for (;;) {}'], { stdio: 'ignore' });
    t.after(() => { spinner.kill('SIGKILL'); });
  }
}

test('under load, every gopls response has latencyMs >= serverUs and equal to its kernel parts within 50 µs', { ...skipUnless(skip || missingCommand('gopls')), timeout: 240_000 }, async (t) => {
  loadBothCores(t);
  const log = path.join(tmpDir(t, { worldWritable: true }), 'log.jsonl');
  const run = await startSession(t, ['--log', log, '--bpf=require'], { server: ['gopls'], cwd: MODULE });
  const { uri, text } = await openInGopls(run, MODULE, 'fixture', path.join(MODULE, 'shapes', 'shapes.go'));
  const lines = text.split('\n');
  const positions = lines.flatMap((l, line) => [...l.matchAll(/\b(Area|Perimeter|Shape|TotalArea|Circle|Rect)\b/g)].map((m) => ({ line, character: m.index! + 1 })));
  for (let round = 0; round < 2; round++) {
    for (const position of positions) {
      const doc = { textDocument: { uri }, position };
      // Some in flight together, as an editor does while the user types.
      // An error response ("no identifier found" inside a comment) is a response all the same.
      const answered = (p: Promise<unknown>): Promise<unknown> => p.catch((err: unknown) => err);
      await Promise.all([
        answered(run.conn.sendRequest(HoverRequest.type, doc)),
        answered(run.conn.sendRequest(DefinitionRequest.type, doc)),
        answered(round === 0 ? run.conn.sendRequest(DocumentSymbolRequest.type, { textDocument: { uri } }) : run.conn.sendRequest(ReferencesRequest.type, { ...doc, context: { includeDeclaration: true } })),
      ]);
    }
  }
  const end = await endSession(run);
  assert.equal(end.code, 0, end.stderr);
  const responses = readLog(log).filter((l) => l.msg === 'message' && l.dir === 's2c' && l.kind === 'response');
  assert.ok(responses.length >= 60, `only ${responses.length} responses`);
  let worst = 0;
  for (const r of responses) {
    const what = `${String(r.method)} ${String(r.id)}`;
    assert.equal(r.clock, 'kernel', `${what} carries the kernel's stamps`);
    const k = kernelOf(r);
    const latencyUs = (r.latencyMs as number) * 1000;
    for (const part of ['toServerPipeUs', 'serverUs', 'serverWriteUs', 'toLsptapPipeUs']) assert.equal(typeof k[part], 'number', `${part} on ${what}`);
    assert.ok(latencyUs >= k.serverUs!, `${what}: latencyMs ${String(r.latencyMs)} < serverUs ${k.serverUs!}`);
    const sum = k.toServerPipeUs! + k.serverUs! + k.serverWriteUs! + k.toLsptapPipeUs!;
    worst = Math.max(worst, Math.abs(latencyUs - sum));
    assert.ok(Math.abs(latencyUs - sum) <= 50, `${what}: latency ${latencyUs.toFixed(0)} µs, parts add to ${sum} µs (${JSON.stringify(k)})`);
  }
  t.diagnostic(`${responses.length} responses under two busy loops; worst |latency - parts| ${worst.toFixed(1)} µs`);
});

/** Frame a JSON-RPC message. */
function frame(obj: object): Buffer {
  const body = Buffer.from(JSON.stringify({ jsonrpc: '2.0', ...obj }));
  return Buffer.concat([Buffer.from(`Content-Length: ${body.length}\r\n\r\n`), body]);
}

/** The line of the c2s request with this id. */
function requestLine(lines: LogLine[], id: number): LogLine {
  const l = lines.find((x) => x.msg === 'message' && x.dir === 'c2s' && x.kind === 'request' && x.id === id);
  assert.ok(l !== undefined, `no request line for id ${id}`);
  return l;
}

test('fromEditorPipeUs shows the 200 ms the editor\'s bytes waited while lsptap was stopped, on the request and its response', { skip }, async (t) => {
  const log = path.join(tmpDir(t, { worldWritable: true }), 'log.jsonl');
  const run = await startSession(t, ['--log', log, '--bpf=require']);
  await run.conn.sendRequest('test/echo', {}); // lsptap is up and watching
  await run.conn.sendRequest('test/echo', {}); // written once lsptap reads: waits microseconds
  run.child.kill('SIGSTOP');
  const answered = run.conn.sendRequest('test/echo', { late: true }); // written while lsptap cannot read
  await sleep(200);
  run.child.kill('SIGCONT');
  await answered;
  const end = await endSession(run);
  assert.equal(end.code, 0, end.stderr);
  const lines = readLog(log);
  const req = kernelOf(requestLine(lines, 2));
  between(req.fromEditorPipeUs, 190_000, 600_000, 'fromEditorPipeUs of the request written while lsptap was stopped');
  assert.equal(kernelOf(responseLine(lines, 2)).fromEditorPipeUs, req.fromEditorPipeUs, 'the response carries its request\'s fromEditorPipeUs');
  between(kernelOf(requestLine(lines, 1)).fromEditorPipeUs, 0, 150_000, 'fromEditorPipeUs of a request read at once');
});

test('the relay forwards from the first byte while the probes load; kernel fields start at the offsets `kernel timing on` names, and every later message has them, joined at its own offsets', { skip }, async (t) => {
  const log = path.join(tmpDir(t, { worldWritable: true }), 'log.jsonl');
  const run = await startSession(t, ['--log', log, '--bpf=require'], { early: true });
  // Written at once: answered while the probes still load, so without kernel fields.
  await Promise.all([run.conn.sendRequest('test/echo', { early: 1 }), run.conn.sendRequest('test/echo', { early: 2 })]);
  await kernelDecided(log, run);
  for (let i = 0; i < 5; i++) await run.conn.sendRequest('test/echo', { later: i });
  const { lines, from } = await endAtCut(run, log);
  t.diagnostic(`kernel fields from c2s offset ${from.c2s}, s2c offset ${from.s2c}`);
  const msgs = lines.filter((l) => l.msg === 'message' && l.method !== 'exit');
  for (const m of msgs) {
    const dir = m.dir as string;
    if (endOf(m) <= from[dir]) { assert.equal(m.kernel, undefined, `${dir} ${String(m.id)} ended before the cut`); continue; }
    const k = kernelOf(m);
    assert.equal(m.clock, 'kernel', `${dir} ${String(m.id)} has the kernel's stamps`);
    if (dir === 'c2s') between(k.fromEditorPipeUs, 0, 150_000, `fromEditorPipeUs of request ${String(m.id)}`);
    if (m.kind === 'response' && (m.id as number) >= 2) assertPartsAddUp(m); // ids 0 and 1: the early echoes
  }
  assert.ok(msgs.filter((m) => (m.offset as number) >= from[m.dir as string]).length >= 12, 'the 6 later requests and their responses have kernel fields');
});

test('a server that has not read the first messages when the probes begin watching (slow to start, as bash-language-server and pylsp are) has every later message joined at its own offsets: the parts add up to each latency', { skip }, async (t) => {
  const log = path.join(tmpDir(t, { worldWritable: true }), 'log.jsonl');
  // The server reads nothing until the log says `kernel timing on`: the early requests wait in its stdin across the cut.
  const run = await startSession(t, ['--log', log, '--bpf=require'], { early: true, env: { ...process.env, READ_AFTER_KERNEL_ON: log } });
  const early = [run.conn.sendRequest('test/echo', { early: 1 }), run.conn.sendRequest('test/echo', { early: 2 })];
  await Promise.all(early);
  for (let i = 0; i < 4; i++) await run.conn.sendRequest('test/echo', { later: i });
  await run.conn.sendRequest('test/sleep', { ms: 150 });
  const { lines, from } = await endAtCut(run, log);
  assert.ok(from.c2s > 0, 'the early requests were relayed before the cut, unread by the server');
  const msgs = lines.filter((l) => l.msg === 'message' && l.method !== 'exit');
  const responses = msgs.filter((m) => m.kind === 'response' && (m.offset as number) >= from.s2c);
  for (const m of responses) {
    const k = kernelOf(m);
    const latencyUs = (m.latencyMs as number) * 1000;
    // Caused truth: no part of a response is larger than its whole.
    for (const f of ['toServerPipeUs', 'serverUs', 'serverWriteUs', 'toLsptapPipeUs'] as const) {
      if (k[f] !== null) assert.ok(k[f]! <= latencyUs + 50, `response ${String(m.id)}: ${f} ${k[f]} µs in a latency of ${latencyUs.toFixed(0)} µs (${JSON.stringify(k)})`);
    }
    if ((m.id as number) >= 2) assertPartsAddUp(m); // ids 0 and 1: the early echoes, written before the cut
  }
  // The early requests were read after the cut, so the server's side of them is known.
  for (const id of [0, 1]) assert.equal(typeof kernelOf(responseLine(lines, id)).serverUs, 'number', `serverUs of early request ${id}`);
  const slept = responseLine(lines, 6);
  between(kernelOf(slept).serverUs, 150_000, (slept.latencyMs as number) * 1000, 'serverUs of the 150 ms sleep');
  assert.equal(responses.length, 8, 'the 8 responses (7 requests and shutdown) came after the cut');
});

test('a server that writes without reading while the editor\'s first message waits unread in its stdin does not stall the session at the cut: lsptap takes the cut once the server reads', { skip, timeout: 120_000 }, async (t) => {
  const log = path.join(tmpDir(t, { worldWritable: true }), 'log.jsonl');
  // For 3 s the server writes 60 KB notifications in one thread and reads nothing; the editor's
  // 1 MB request waits in its stdin meanwhile. Holding the server's output until that request
  // was taken (to take the cut) would wait for a server waiting for lsptap: for ever.
  const run = await startSession(t, ['--log', log, '--bpf=require'], { early: true, env: { ...process.env, WRITE_FIRST_MS: '3000' } });
  const big = await run.conn.sendRequest<{ ok?: unknown }>('test/echo', { text: 'y'.repeat(1_000_000) });
  assert.ok(big !== undefined, 'the 1 MB request was answered');
  await kernelDecided(log, run);
  for (let i = 0; i < 3; i++) await run.conn.sendRequest('test/echo', { later: i });
  const { lines, from } = await endAtCut(run, log);
  t.diagnostic(`kernel fields from c2s offset ${from.c2s}, s2c offset ${from.s2c}`);
  for (const id of [1, 2, 3]) assertPartsAddUp(responseLine(lines, id));
});

/**
 * End a session cleanly and read its log, with where kernel fields begin each way (the
 * `kernel timing on` line's offsets).
 */
async function endAtCut(run: Parameters<typeof endSession>[0], log: string): Promise<{ lines: LogLine[]; from: Record<string, number> }> {
  const end = await endSession(run);
  assert.equal(end.code, 0, end.stderr);
  const lines = readLog(log);
  const on = lines.find((l) => l.msg === 'kernel timing on');
  assert.ok(on !== undefined, 'a `kernel timing on` line');
  return { lines, from: { c2s: on.c2sOffset as number, s2c: on.s2cOffset as number } };
}

const endOf = (m: LogLine): number => (m.offset as number) + (m.headerBytes as number) + (m.bytes as number);

/** Joined at wrong offsets, a response's parts would not add up to its latency. */
function assertPartsAddUp(m: LogLine): void {
  const k = kernelOf(m);
  const sum = k.toServerPipeUs! + k.serverUs! + k.serverWriteUs! + k.toLsptapPipeUs!;
  between(sum, (m.latencyMs as number) * 1000 - 50, (m.latencyMs as number) * 1000 + 50, `response ${String(m.id)}'s parts against its latency (${JSON.stringify(k)})`);
}

test('startTime + firstByteMs is the wall clock of lsptap\'s read: never before the client wrote, and within 2 ms for a prompt read', async (t) => {
  const log = path.join(tmpDir(t, { worldWritable: true }), 'log.jsonl');
  const run = await startSession(t, ['--log', log, '--bpf=off']);
  await run.conn.sendRequest('test/echo', {}); // lsptap is reading
  const written = await writeOnTicks(run.child.stdin!, 100, 16);
  const end = await endSession(run);
  assert.equal(end.code, 0, end.stderr);
  const lines = readLog(log);
  const startMs = Date.parse(lines.find((l) => l.msg === 'session start')!.startTime as string);
  // lsptap reads when its event loop gets there: later on a loaded machine, never earlier.
  const offsets = written.map((w) => startMs + (requestLine(lines, w.id).firstByteMs as number) - w.wallMs);
  t.diagnostic(`startTime + firstByteMs - client's write, ms: ${offsets.map((o) => o.toFixed(3)).join(', ')}`);
  for (const o of offsets) assert.ok(o >= -2, `lsptap read ${(-o).toFixed(3)} ms before the client wrote`);
  assert.ok(Math.min(...offsets) <= 2, `even the promptest read is ${Math.min(...offsets).toFixed(3)} ms after the write`);
});

test('with kernel timing, startTime + lastByteMs - fromEditorPipeUs is the wall clock at which the client wrote, within 2 ms', { skip }, async (t) => {
  const log = path.join(tmpDir(t, { worldWritable: true }), 'log.jsonl');
  const run = await startSession(t, ['--log', log, '--bpf=require']);
  await run.conn.sendRequest('test/echo', {});
  const written = await writeOnTicks(run.child.stdin!, 100, 8);
  const end = await endSession(run);
  assert.equal(end.code, 0, end.stderr);
  const lines = readLog(log);
  const startMs = Date.parse(lines.find((l) => l.msg === 'session start')!.startTime as string);
  const offsets = written.map((w) => {
    const line = requestLine(lines, w.id);
    assert.equal(line.clock, 'kernel');
    return startMs + (line.lastByteMs as number) - kernelOf(line).fromEditorPipeUs! / 1000 - w.wallMs;
  });
  t.diagnostic(`editor's write (lsptap's clocks) - client's write (Date.now), ms: ${offsets.map((o) => o.toFixed(3)).join(', ')}`);
  for (const o of offsets) assert.ok(Math.abs(o) <= 2, `wall clock off by ${o.toFixed(3)} ms`);
});

/** Block until Date.now() ticks: the wall clock is then exact to a few µs. */
function atMillisecondTick(): number {
  const first = Date.now();
  let now = first;
  while (now === first) now = Date.now();
  return now;
}

/** Write n requests (ids from firstId), each right at a millisecond tick; the wall clock of each write. */
async function writeOnTicks(stdin: NodeJS.WritableStream, firstId: number, n: number): Promise<{ id: number; wallMs: number }[]> {
  const out: { id: number; wallMs: number }[] = [];
  for (let id = firstId; id < firstId + n; id++) {
    await sleep(20);
    const wallMs = atMillisecondTick();
    stdin.write(frame({ id, method: 'test/echo', params: { id } }));
    out.push({ id, wallMs });
  }
  await sleep(100);
  return out;
}
