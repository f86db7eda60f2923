// Hostile bytes through the real binary: each problem gets one warn line naming direction,
// offset and reason, and the bytes still reach the other side unchanged.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { collect, frame, readLog, sha256, startLsptap, tmpDir, rawServer, type LogLine } from './helpers/index';

const good = (id: number): Buffer => frame(`{"jsonrpc":"2.0","id":${id},"method":"test/x","params":{}}`);

const CASES: Array<{ name: string; bytes: Buffer; reason: RegExp }> = [
  { name: 'a missing Content-Length', bytes: Buffer.from('Content-Type: text/plain\r\n\r\n{}'), reason: /^header has no Content-Length$/ },
  { name: 'a non-numeric Content-Length', bytes: Buffer.from('Content-Length: ten\r\n\r\n{}'), reason: /^Content-Length is not a number$/ },
  { name: 'a header line without a colon', bytes: Buffer.from('Content-Length 2\r\n\r\n{}'), reason: /^header line without a colon$/ },
  { name: 'a body that is not JSON', bytes: frame('not json at all'), reason: /^body is not JSON/ },
  { name: 'a body that is JSON but not JSON-RPC', bytes: frame('{"hello":1}'), reason: /not a JSON-RPC message/ },
  { name: 'non-UTF-8 bytes', bytes: frame(Buffer.from([0x7b, 0x22, 0x6d, 0x65, 0x74, 0x68, 0x6f, 0x64, 0x22, 0x3a, 0x22, 0xff, 0x22, 0x7d])), reason: /^body is not valid UTF-8$/ },
];

function warnings(lines: LogLine[]): LogLine[] {
  return lines.filter((l) => l.level === 40 && l.msg === 'bad input');
}

for (const c of CASES) {
  test(`client to server: ${c.name} gets one warn line, is forwarded unchanged, and framing goes on`, async (t) => {
    const dir = tmpDir(t);
    const log = path.join(dir, 'log.jsonl');
    const rec = path.join(dir, 'received');
    const r = startLsptap(t, ['--log', log], [process.execPath, rawServer], { env: { ...process.env, RECORD: rec } });
    const sent = Buffer.concat([good(1), c.bytes, good(2)]);
    r.child.stdin!.end(sent);
    assert.equal((await r.exited).code, 0, r.stderr());
    assert.equal(sha256(fs.readFileSync(rec)), sha256(sent));
    const lines = readLog(log);
    const w = warnings(lines);
    assert.equal(w.length, 1, JSON.stringify(w));
    assert.equal(w[0].dir, 'c2s');
    assert.equal(w[0].offset, good(1).length);
    assert.match(String(w[0].reason), c.reason);
    const ids = lines.filter((l) => l.msg === 'message' && l.kind === 'request').map((l) => l.id);
    assert.deepEqual(ids, [1, 2], 'the requests around the bad input are still framed');
  });
}

test('server to client: bad frames get warn lines with dir s2c and reach the client unchanged', async (t) => {
  const dir = tmpDir(t);
  const log = path.join(dir, 'log.jsonl');
  const sendFile = path.join(dir, 'send');
  // A good frame after each bad one: inside a resync, junk is skipped without more warnings.
  const bytes = Buffer.concat([good(1), ...CASES.flatMap((c, i) => [c.bytes, good(10 + i)])]);
  fs.writeFileSync(sendFile, bytes);
  const r = startLsptap(t, ['--log', log], [process.execPath, rawServer], { env: { ...process.env, SEND: sendFile } });
  const received = collect(r.child.stdout!);
  r.child.stdin!.end();
  assert.equal((await r.exited).code, 0);
  assert.equal(sha256(await received), sha256(bytes));
  const w = warnings(readLog(log));
  assert.equal(w.length, CASES.length);
  assert.ok(w.every((x) => x.dir === 's2c'));
  let offset = good(1).length;
  CASES.forEach((c, i) => {
    assert.equal(w[i].offset, offset, c.name);
    assert.match(String(w[i].reason), c.reason, c.name);
    offset += c.bytes.length + good(10 + i).length;
  });
});

test('a declared length that runs past the end of the stream is reported at EOF', async (t) => {
  const dir = tmpDir(t);
  const log = path.join(dir, 'log.jsonl');
  const r = startLsptap(t, ['--log', log], [process.execPath, rawServer]);
  r.child.stdin!.end(Buffer.concat([good(1), Buffer.from('Content-Length: 500\r\n\r\n{"jsonrpc":"2.0"')]));
  assert.equal((await r.exited).code, 0);
  const w = warnings(readLog(log));
  assert.equal(w.length, 1);
  assert.equal(w[0].offset, good(1).length);
  assert.match(String(w[0].reason), /stream ended 16 bytes into a body declared as 500 bytes/);
});
