// --bodies logs each body as it was sent, byte for byte, when bodies span many reads and
// the analysis thread's shared ring wraps under them many times over: the framer must keep
// its own copy of what it logs, since a ring record is valid only while it is read.

import test from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import readline from 'node:readline';
import { randomBytes } from 'node:crypto';
import { ChunkRingReader, ChunkRingWriter, RecordType, createRingBuffers } from '../src/bridge/chunk-ring';
import { Framer } from '../src/analysis/framer';
import type { Frame } from '../src/model/frame';
import { frame, rawServer, sha256, startLsptap, tmpDir } from './helpers/index';

const DOCS = 2000;
const TEXT_BYTES = 500 * 1024;

/** A didOpen body whose text is distinct from every other (random base64 lines). */
function didOpen(i: number): Buffer {
  const text = `// doc ${i}\n${randomBytes(TEXT_BYTES * 3 / 4).toString('base64').replace(/(.{76})/g, '$1\n')}`;
  return Buffer.from(JSON.stringify({ jsonrpc: '2.0', method: 'textDocument/didOpen', params: { textDocument: { uri: `file:///w/doc${i}.go`, languageId: 'go', version: 1, text } } }));
}

async function write(stream: NodeJS.WritableStream, buf: Buffer): Promise<void> {
  if (!stream.write(buf)) await new Promise((r) => stream.once('drain', r));
}

test('a kept body is the bytes sent, though the ring it was read from is written again before the body ends and while its frame waits', () => {
  // The analysis thread's path: chunks through a shared ring (8 KiB here, so it wraps many
  // times inside one body), each record read, then released, before the next is written.
  const bufs = createRingBuffers(8192);
  const writer = new ChunkRingWriter(bufs);
  const reader = new ChunkRingReader(bufs);
  const frames: Frame[] = [];
  const framer = new Framer({ dir: 'c2s', retainBodyMax: 1 << 20, onFrame: (f) => frames.push(f), onWarning: (w) => assert.fail(w.reason) });
  const text = (i: number): string => `${i} ${randomBytes(30_000).toString('base64')}`;
  const bodies = [1, 2].map((i) => Buffer.from(JSON.stringify({ jsonrpc: '2.0', method: 'textDocument/didOpen', params: { textDocument: { text: text(i) } } })));
  bodies.push(Buffer.from('{"jsonrpc":"2.0","id":3,"method":"textDocument/hover","params":{}}'));
  const wire = Buffer.concat(bodies.map((b) => frame(b)));
  const through = (chunk: Buffer, observe: boolean): void => {
    assert.ok(writer.tryWrite(RecordType.Chunk, 0, 1, chunk, 0n, 0n));
    reader.read((rec) => { if (observe) framer.push(rec.payload, rec.readNs, rec.forwardedNs); }, Infinity);
  };
  for (let at = 0; at < wire.length; at += 1500) through(wire.subarray(at, at + 1500), true);
  // The frames wait (as in the kernel stage) while later chunks take the ring's space.
  for (let k = 0; k < 8; k++) through(Buffer.alloc(1500, 0x78), false);
  assert.equal(frames.length, bodies.length);
  frames.forEach((f, i) => assert.ok(f.body?.equals(bodies[i]), `body ${i} (${bodies[i].length} bytes) as sent; logged starts ${JSON.stringify(f.body?.toString('latin1', 0, 40))}`));
});

test(`--bodies --bodies-max 4194304 logs each of ${DOCS} distinct 500 kB didOpen bodies exactly as sent`, { timeout: 600_000 }, async (t) => {
  const log = path.join(tmpDir(t), 'log.jsonl');
  const run = startLsptap(t, ['--bpf', 'off', '--log', log, '--bodies', '--bodies-max', '4194304'], [process.execPath, rawServer]);
  run.child.stdout!.resume();
  const sent: string[] = [];
  for (let i = 0; i < DOCS; i++) {
    const body = didOpen(i);
    sent.push(sha256(body));
    await write(run.child.stdin!, frame(body));
  }
  run.child.stdin!.end();
  assert.equal((await run.exited).code, 0, run.stderr());

  const logged: { hash: string; length: number; head: string }[] = [];
  for await (const l of readline.createInterface({ input: fs.createReadStream(log) })) {
    if (!l.includes('"textDocument/didOpen"')) continue;
    const line = JSON.parse(l) as { msg?: unknown; method?: unknown; body?: unknown };
    if (line.msg !== 'message' || line.method !== 'textDocument/didOpen') continue;
    assert.equal(typeof line.body, 'string', 'every didOpen line carries its body');
    const b = Buffer.from(line.body as string, 'utf8');
    logged.push({ hash: sha256(b), length: b.length, head: b.toString('latin1', 0, 60) });
  }
  assert.equal(logged.length, DOCS);
  const wrong = logged.map((l, i) => ({ ...l, i })).filter((l) => l.hash !== sent[l.i]);
  assert.equal(wrong.length, 0, `${wrong.length} of ${DOCS} bodies differ from what was sent; first: #${wrong[0]?.i} (${wrong[0]?.length} bytes) starts ${JSON.stringify(wrong[0]?.head)}`);
});
