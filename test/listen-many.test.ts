// `--listen` kernel-times at least 200 concurrent sessions (issue 24, finding 8: the shared
// watched_fds map held 256 streams, about 40 sessions, and 8 of 50 gopls sessions had
// `kernel timing off ... map is full`). The server per connection is `cat`, a fixture: 200
// gopls processes do not fit this 2-core machine, and what fills the maps is each session's
// streams and processes, which any server has.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { frame, lsptapBin, start, tmpDir, waitFor, type LogLine } from './helpers/index';
import { bpfSkipReason } from './helpers/kernel';

const SESSIONS = 200;

function lines(log: string): LogLine[] {
  return fs.readFileSync(log, 'utf8').split('\n').filter((l) => l.length > 0).map((l) => JSON.parse(l) as LogLine);
}

/** Connect, send one message and wait for `cat` to send it back: the session is up (and attached). */
function openSession(sock: string): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const s = net.connect({ path: sock });
    const msg = frame('{"jsonrpc":"2.0","method":"test/hello","params":{}}');
    let got = 0;
    s.once('error', reject);
    s.on('data', (c: Buffer) => { got += c.length; if (got >= msg.length) resolve(s); });
    s.write(msg);
  });
}

test(`--listen kernel-times ${SESSIONS} concurrent sessions, none with kernel timing off`, { skip: bpfSkipReason(), timeout: 300_000 }, async (t) => {
  const dir = tmpDir(t);
  const log = path.join(dir, 'log.jsonl');
  const sock = path.join(dir, 'lsptap.sock');
  const lsptap = start(t, process.execPath, [lsptapBin, '--log', log, '--bpf=auto', '--listen', `unix:${sock}`, '--', 'cat']);
  await waitFor(() => lsptap.stderr().includes('listening on'), 60_000, 'lsptap listening');
  const sockets: net.Socket[] = [];
  t.after(() => { for (const s of sockets) s.destroy(); });
  // In waves of 20, so the accept queue never overflows; every session stays open to the end.
  for (let i = 0; i < SESSIONS; i += 20) sockets.push(...await Promise.all(Array.from({ length: 20 }, () => openSession(sock))));
  // The analysis thread writes each session start after the session is up: wait for the log.
  await waitFor(() => lines(log).filter((l) => l.msg === 'session start').length >= SESSIONS, 120_000, 'every session start');
  const starts = lines(log).filter((l) => l.msg === 'session start');
  const off = lines(log).filter((l) => l.msg === 'kernel timing off');
  assert.equal(starts.length, SESSIONS);
  assert.deepEqual(off.map((l) => l.reason ?? l), [], 'every session is kernel-timed');
  assert.ok(starts.every((l) => l.kernel !== undefined), 'each session start carries its kernel fields');
  for (const s of sockets) s.end();
  await waitFor(() => lines(log).filter((l) => l.msg === 'session end').length === SESSIONS, 120_000, 'every session end');
  lsptap.child.kill('SIGTERM');
  assert.equal((await lsptap.exited).code, 0, lsptap.stderr());
});
