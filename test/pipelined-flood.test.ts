// A pipelined flood is paired whole: 200,000 requests written before any answer is read
// wait in lsptap's pairing table together, and every answer pairs with its request (issue 24,
// finding 2: a cap of 10,000 waiting requests called 187,143 answered requests unanswered,
// with a warn line each).

import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { WireReader } from '../bench/lsp-wire';
import { ECHO_SERVER } from '../bench/modes';
import { frame, startLsptap, tmpDir, type LogLine } from './helpers/index';

test('200,000 requests pipelined before any answer is read are all paired: no warn line, none unanswered', { timeout: 300_000 }, async (t) => {
  const log = path.join(tmpDir(t), 'log.jsonl');
  const run = startLsptap(t, ['--log', log, '--bpf', 'off'], ECHO_SERVER);
  const requests = 200_000;
  const stdin = run.child.stdin!;
  const stdout = run.child.stdout!;
  // The client reads nothing until every request is written: lsptap's pairing table holds
  // them all at once (the server's answers wait in its own memory meanwhile).
  stdout.pause();
  for (let i = 1; i <= requests; i += 1000) {
    const parts: Buffer[] = [];
    for (let id = i; id < i + 1000; id++) parts.push(frame(`{"jsonrpc":"2.0","id":${id},"method":"test/echo","params":{"n":${id}}}`));
    if (!stdin.write(Buffer.concat(parts))) await new Promise((r) => stdin.once('drain', r));
  }
  let answers = 0;
  const reader = new WireReader((body) => { if (body !== null && body.includes('"result"')) answers++; }, 64 * 1024);
  const allIn = new Promise<void>((resolve) => {
    stdout.on('data', (c: Buffer) => { reader.push(c); if (answers === requests + 1) resolve(); });
  });
  stdin.write(frame(`{"jsonrpc":"2.0","id":${requests + 1},"method":"shutdown"}`));
  stdout.resume();
  await allIn;
  stdin.end(frame('{"jsonrpc":"2.0","method":"exit"}'));
  assert.equal((await run.exited).code, 0, run.stderr());

  const text = fs.readFileSync(log, 'utf8');
  const warns = text.split('\n').filter((l) => l.includes('"level":40'));
  assert.deepEqual(warns, [], 'no warn line');
  const lines = text.trimEnd().split('\n');
  const end = JSON.parse(lines.at(-1)!) as LogLine;
  assert.equal(end.msg, 'session end');
  assert.equal(end.unansweredCount, 0);
  assert.equal(end.evicted, 0);
  const echo = (end.summary as { method: string; count: number; answered: number }[]).find((r) => r.method === 'test/echo');
  assert.deepEqual({ count: echo?.count, answered: echo?.answered }, { count: requests, answered: requests });
});
