// How `lsptap top` follows a log directory: an idle poll touches no file however many logs
// a month has left there (the directory's inotify watch says what changed), a change the
// watch missed is found by the slow rescan, a line too long to hold is skipped with a
// count, and a deleted log's sessions are no longer live.

import test from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { ACTIVE_RESCAN_MS, FULL_RESCAN_MS, LINE_MAX_BYTES, LogTail, nodeTailFs, type TailBatch, type TailFs } from '../src/top/log-tail';
import { LiveState } from '../src/top/live-state';
import { tmpDir, waitFor } from './helpers/index';

/** The real file system, with every call counted. */
function countingFs(over: Partial<TailFs> = {}): { fs: TailFs; calls: Record<string, number> } {
  const calls: Record<string, number> = { readdir: 0, stat: 0, open: 0 };
  const base = { ...nodeTailFs, ...over };
  return {
    calls,
    fs: {
      ...base,
      readdir: (d) => { calls.readdir++; return base.readdir(d); },
      stat: (f) => { calls.stat++; return base.stat(f); },
      open: (f) => { calls.open++; return base.open(f); },
    },
  };
}

const line = (o: Record<string, unknown>): string => `${JSON.stringify(o)}\n`;
const start = (session: string): string => line({ msg: 'session start', session, startTime: new Date().toISOString(), command: ['gopls'] });
const request = (session: string, id: number): string => line({ msg: 'message', session, dir: 'c2s', kind: 'request', method: 'textDocument/hover', id, firstByteMs: 1 });

function reset(calls: Record<string, number>): void { for (const k of Object.keys(calls)) calls[k] = 0; }

/** Poll until a batch has lines (the watch's event arrives on the event loop), gathering what came. */
async function pollUntil(tail: LogTail, pred: (b: TailBatch) => boolean, what: string): Promise<TailBatch> {
  const all: TailBatch = { lines: [], gone: [] };
  await waitFor(() => {
    const b = tail.poll();
    all.lines.push(...b.lines);
    all.gone.push(...b.gone);
    return pred(all);
  }, 10_000, what);
  return all;
}

const dayAgo = new Date(Date.now() - 86_400_000);

test('idle polls open no log of the 2,001 in the directory and stat only the directory and the active one; an append opens only the file appended to', async (t) => {
  const dir = tmpDir(t);
  for (let i = 0; i < 2000; i++) {
    const f = path.join(dir, `old-${String(i).padStart(4, '0')}.jsonl`);
    fs.writeFileSync(f, start(`s${i}`));
    fs.utimesSync(f, dayAgo, dayAgo);
  }
  const live = path.join(dir, 'live.jsonl');
  fs.writeFileSync(live, start('live'));
  const { fs: counted, calls } = countingFs();
  let nowMs = Date.now();
  const tail = new LogTail([dir], [], { recentMs: 0, fs: counted, now: () => nowMs });
  t.after(() => tail.close());
  assert.equal(tail.followed, 2001);
  assert.ok(tail.watching);
  reset(calls);
  for (let i = 0; i < 20; i++) { nowMs += 250; assert.deepEqual(tail.poll(), { lines: [], gone: [] }); }
  assert.equal(20 * 250, ACTIVE_RESCAN_MS);
  assert.deepEqual(calls, { readdir: 0, stat: 2, open: 0 }, '20 idle polls (5 s, one active rescan) stat the directory and live.jsonl');

  reset(calls);
  fs.appendFileSync(live, request('live', 1));
  const got = await pollUntil(tail, (b) => b.lines.length > 0, 'the appended line');
  assert.deepEqual(got.lines.map((l) => [path.basename(l.source), l.value.id]), [['live.jsonl', 1]]);
  assert.equal(calls.open, 1, 'only the file appended to was opened');
  assert.equal(calls.stat + calls.readdir, 0);
});

test(`changes the watch missed are read: in an active log or a new one within ${ACTIVE_RESCAN_MS / 1000} s, in an old log within ${FULL_RESCAN_MS / 60_000} min`, (t) => {
  const dir = tmpDir(t);
  const files = [0, 1, 2].map((i) => path.join(dir, `s${i}.jsonl`));
  for (const f of files) fs.writeFileSync(f, start(path.basename(f)));
  fs.utimesSync(files[0], dayAgo, dayAgo);
  // A watch that never reports (as on NFS, or after its queue overflowed).
  const { fs: counted, calls } = countingFs({ watch: () => ({ close: () => undefined }) });
  let nowMs = Date.now() + 2000; // the directory's mtime is no longer fresh
  const tail = new LogTail([dir], [], { recentMs: 0, fs: counted, now: () => nowMs });
  t.after(() => tail.close());
  fs.appendFileSync(files[0], request('s0.jsonl', 5));
  fs.appendFileSync(files[1], request('s1.jsonl', 7));
  fs.writeFileSync(path.join(dir, 's3.jsonl'), start('s3.jsonl'));
  reset(calls);
  const got = (): string[][] => tail.poll().lines.map((l) => [path.basename(l.source), String(l.value.msg)]).sort();
  nowMs += ACTIVE_RESCAN_MS - 1;
  assert.deepEqual(got(), [], 'nothing read before the active rescan is due');
  nowMs += 1;
  assert.deepEqual(got(), [['s1.jsonl', 'message'], ['s3.jsonl', 'session start']]);
  assert.deepEqual(calls, { readdir: 1, stat: 3, open: 2 }, 'the directory (its mtime moved: listed) and the two active logs stat\'d; the changed and the new one opened');
  reset(calls);
  nowMs += FULL_RESCAN_MS - ACTIVE_RESCAN_MS;
  assert.deepEqual(got(), [['s0.jsonl', 'message']], 'the old log at the full rescan');
  assert.deepEqual(calls, { readdir: 1, stat: 5, open: 1 }, 'the directory and every log stat\'d once');
});

test(`a 200 MB line without a newline is skipped to its newline and counted, holding at most ${LINE_MAX_BYTES >> 20} MiB; the next line is read`, async (t) => {
  const dir = tmpDir(t);
  const file = path.join(dir, 'big.jsonl');
  fs.writeFileSync(file, start('big'));
  const tail = new LogTail([dir], [], { recentMs: 60_000 });
  t.after(() => tail.close());
  const first = await pollUntil(tail, (b) => b.lines.length === 1, 'the first line');
  assert.equal(first.lines[0].value.msg, 'session start');
  const used = (): number => { const m = process.memoryUsage(); return m.heapUsed + m.arrayBuffers; };
  const before = used();
  let peak = 0;
  const piece = Buffer.alloc(8 << 20, 0x61);
  fs.appendFileSync(file, '{"msg":"message","body":"');
  for (let i = 0; i < 25; i++) {
    fs.appendFileSync(file, piece);
    tail.poll(); tail.poll();
    peak = Math.max(peak, used() - before);
  }
  fs.appendFileSync(file, `"}\n${request('big', 2)}`);
  const after = await pollUntil(tail, (b) => b.lines.length > 0, 'the line after the long one');
  assert.deepEqual(after.lines.map((l) => l.value.id), [2]);
  assert.equal(tail.skippedLines, 1);
  // The cap, a 4 MiB read buffer and its copies in flight; the line itself is 200 MiB.
  assert.ok(peak < 64 << 20, `memory grew by ${(peak / 2 ** 20).toFixed(1)} MiB while reading a 200 MiB line`);
  t.diagnostic(`peak growth ${(peak / 2 ** 20).toFixed(1)} MiB`);
});

test('a deleted log is no longer live and leaves nothing in flight; the other session stays', async (t) => {
  const dir = tmpDir(t);
  const [a, b] = ['a.jsonl', 'b.jsonl'].map((n) => path.join(dir, n));
  fs.writeFileSync(a, start('a') + request('a', 1));
  fs.writeFileSync(b, start('b') + request('b', 1));
  const tail = new LogTail([dir], [], { recentMs: 60_000 });
  t.after(() => tail.close());
  const state = new LiveState(100);
  const feed = (batch: TailBatch): void => {
    for (const l of batch.lines) state.add(l.value, l.source);
    for (const g of batch.gone) state.logGone(g);
  };
  feed(tail.poll());
  assert.equal(state.liveSessions, 2);
  assert.equal(state.inFlight().length, 2);
  fs.rmSync(a);
  const batch = await pollUntil(tail, (x) => x.gone.length > 0, 'the deleted log to be gone');
  feed(batch);
  assert.deepEqual(batch.gone, [a]);
  assert.equal(tail.followed, 1);
  assert.equal(state.liveSessions, 1);
  assert.deepEqual(state.inFlight().map((f) => f.session), ['b']);
});
