// Kernel timing in `--listen` mode: one probe set for the listener, each connection's
// session joined by its own fds. Two real `gopls -remote` forwarders talk at once through
// lsptap to one real gopls daemon; each session's responses carry the kernel fields a
// stdio session has, measured on that session's own sockets.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { goFixture, lsptapBin, messages, readLog, start, tmpDir, waitFor, type LogLine } from './helpers/index';
import { realGopls, startDaemon, twoRemoteEditors } from './helpers/dropin';
import { bpfSkipReason } from './helpers/kernel';

const skip = realGopls === null ? 'gopls is not installed (scripts/setup.sh installs it)' : bpfSkipReason();

function sessionsOf(lines: LogLine[]): Map<string, LogLine[]> {
  const by = new Map<string, LogLine[]>();
  for (const l of lines) {
    const s = String(l.session);
    if (s !== 'listener') by.set(s, [...(by.get(s) ?? []), l]);
  }
  return by;
}

async function listenWithKernel(t: Parameters<typeof start>[0], listen: 'unix' | 'tcp'): Promise<void> {
  const dir = tmpDir(t);
  const daemonSock = path.join(dir, 'daemon.sock');
  const log = path.join(dir, 'log.jsonl');
  const daemon = await startDaemon(t, daemonSock);
  const where = listen === 'unix' ? `unix:${path.join(dir, 'lsptap.sock')}` : 'tcp:127.0.0.1:0';
  const lsptap = start(t, process.execPath, [lsptapBin, '--log', log, '--bpf=require', '--listen', where, '--connect', `unix:${daemonSock}`], { cwd: goFixture });
  await waitFor(() => lsptap.stderr().includes('listening on'), 30_000, 'lsptap listening');
  const bound = /listening on (\S+),/.exec(lsptap.stderr())![1];
  const remote = bound.startsWith('unix:') ? `unix;${bound.slice(5)}` : bound.slice(4);

  const editors = await twoRemoteEditors(t, `${remote}`);
  await waitFor(() => linesWith(log, 'session end') === editors.pids.length, 10000, 'two session ends');
  lsptap.child.kill('SIGTERM');
  assert.deepEqual(await lsptap.exited, { code: 0, signal: null }, lsptap.stderr());

  const sessions = sessionsOf(readLog(log));
  assert.equal(sessions.size, 2);
  const daemonFds = new Set<number>();
  const editorPids = new Set<unknown>();
  for (const [id, lines] of sessions) {
    assert.equal(lines.filter((l) => l.msg === 'kernel timing off').length, 0, `session ${id}: kernel timing is on`);
    const startLine = lines.find((l) => l.msg === 'session start')!;
    const k = startLine.kernel as { serverFds: number[]; editorPid: number | null; editorFd: number | null; lsptapFds: { clientIn: number; toServer: number } };
    assert.equal(startLine.serverPid, daemon.child.pid);
    assert.ok(k.serverFds[0] > 2, `session ${id}: the daemon's fd for this connection was found`);
    daemonFds.add(k.serverFds[0]);
    assert.equal(k.editorPid, startLine.clientPid, `session ${id}: the editor side is the forwarder`);
    assert.ok(k.editorFd !== null, `session ${id}: the forwarder's socket fd was found`);
    editorPids.add(k.editorPid);
    const responses = messages(lines).filter((l) => l.kind === 'response' && l.dir === 's2c');
    assert.ok(responses.length >= 4, `session ${id}: handshake, initialize, hover, definition, shutdown answered`);
    for (const m of responses.map((l) => String(l.method))) {
      const r = messages(lines).find((l) => l.kind === 'response' && l.method === m)!;
      const kk = r.kernel as Record<string, number | null>;
      // The handshake is written as the forwarder connects, before the probes watch its
      // socket: its bytes are counted, but the editor's write has no time.
      const fromEditor = m === 'gopls/handshake' ? [] : ['fromEditorPipeUs'];
      for (const f of [...fromEditor, 'toServerPipeUs', 'serverUs', 'serverWriteUs', 'toLsptapPipeUs', 'toEditorPipeUs', 'lsptapReadUs', 'lsptapWriteUs']) {
        assert.equal(typeof kk[f], 'number', `session ${id}, ${m}: ${f} on ${JSON.stringify(r)}`);
      }
    }
    const end = lines.find((l) => l.msg === 'session end')!.kernel as Record<string, number>;
    assert.ok(end.ioEvents > 0, `session ${id} saw its own io events`);
    assert.equal(end.strayEvents, 0, `session ${id}: every event routed to it was on its streams`);
  }
  assert.equal(daemonFds.size, 2, 'each session is joined by its own daemon fd');
  assert.deepEqual([...editorPids].sort(), [...editors.pids].sort());
}

test('--listen unix: with kernel timing, two concurrent gopls -remote editors each get per-message kernel fields from their own fds', { skip, timeout: 180_000 }, async (t) => {
  await listenWithKernel(t, 'unix');
});

test('--listen tcp: with kernel timing, the editors\' TCP connections are joined by their own fds too', { skip, timeout: 180_000 }, async (t) => {
  await listenWithKernel(t, 'tcp');
});

test('--listen with --bpf=require starts (one probe set for the listener) instead of refusing', { skip, timeout: 60_000 }, async (t) => {
  const dir = tmpDir(t);
  const lsptap = start(t, process.execPath, [lsptapBin, '--log', path.join(dir, 'log.jsonl'), '--bpf=require', '--listen', `unix:${path.join(dir, 'l.sock')}`, '--connect', `unix:${path.join(dir, 'd.sock')}`]);
  await waitFor(() => lsptap.stderr().includes('listening on'), 30_000, 'lsptap listening');
  lsptap.child.kill('SIGTERM');
  assert.deepEqual(await lsptap.exited, { code: 0, signal: null }, lsptap.stderr());
  assert.equal(fs.existsSync(path.join(dir, 'l.sock')), false);
});

/** Log lines with this msg, counted in the raw text: the log is being written while we wait (its last line may be cut). */
function linesWith(log: string, msg: string): number {
  try { return fs.readFileSync(log, 'utf8').split(`"msg":"${msg}"`).length - 1; } catch { return 0; }
}
