// The analysis thread is behind the relay, never in front of it: if it fails, lsptap says
// so once and the editor's session goes on, byte for byte, to the server's exit code.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { collect, connect, fixtures, lspServer, messages, readLog, start, startLsptap, tmpDir, waitFor } from './helpers/index';

test('when the analysis thread fails, lsptap says so once on stderr and the session goes on to the server\'s exit code', async (t) => {
  const log = path.join(tmpDir(t), 'log.jsonl');
  // lsptap with a fault injected in its analysis thread after 6 records (the fixture wraps the real worker).
  const r = start(t, process.execPath, [path.join(fixtures, 'patched-lsptap', 'lsptap.js'), '--bpf=off', '--log', log, '--', process.execPath, lspServer], {
    env: { ...process.env, FAIL_AFTER: '6', EXIT_CODE: '3' },
  });
  const conn = connect(r.child);
  for (let i = 0; i < 40; i++) {
    const payload = { i, text: 'é'.repeat(i * 50) };
    assert.deepEqual(await conn.sendRequest('test/echo', payload), payload, `answer ${i} arrives unchanged`);
  }
  await conn.sendRequest('shutdown');
  await conn.sendNotification('exit');
  assert.deepEqual(await r.exited, { code: 3, signal: null });
  const said = r.stderr().split('\n').filter((l) => l.startsWith('lsptap:'));
  assert.equal(said.length, 1, r.stderr());
  assert.match(said[0], /^lsptap: the analysis thread failed: injected fault: the analysis thread fails here; relaying goes on without logging$/);
  const lines = readLog(log);
  assert.equal(lines[0].msg, 'session start', 'what was analysed before the failure is in the log');
  assert.ok(lines.some((l) => l.level === 50 && /analysis thread/.test(String(l.msg)) && /injected fault/.test(String(l.err))), 'the log says why it stops');
  assert.ok(lines.every((l) => l.msg !== 'session end'), 'no session end is made up after the failure');
});

test('a server that writes a message and exits at once, while the analysis thread starts, still has its bytes relayed and logged', async (t) => {
  const dir = tmpDir(t);
  const log = path.join(dir, 'log.jsonl');
  const body = '{"jsonrpc":"2.0","method":"window/logMessage","params":{"type":1,"message":"bye"}}';
  const framed = `Content-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`;
  const r = startLsptap(t, ['--bpf=off', '--log', log], ['sh', '-c', `printf '${framed.replace(/\r\n/g, '\\r\\n')}'; exit 4`]);
  r.child.stdin!.end();
  const out = await collect(r.child.stdout!);
  assert.deepEqual(await r.exited, { code: 4, signal: null });
  assert.equal(out.toString('utf8'), framed, 'the client got the server\'s bytes');
  const lines = readLog(log);
  assert.deepEqual(messages(lines).map((m) => [m.dir, m.method]), [['s2c', 'window/logMessage']]);
  assert.equal(lines.at(-1)!.msg, 'session end');
});

/** A task's nice value and start time (clock ticks since boot), from /proc/PID/task/TID/stat. */
function taskStat(file: string): { nice: number; startTicks: number } {
  const stat = fs.readFileSync(file, 'latin1');
  const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' '); // rest[0] is field 3, state
  return { nice: Number(rest[19 - 3]), startTicks: Number(rest[22 - 3]) };
}

test('the analysis thread is created only once the server is spawned, at the analysis nice value', async (t) => {
  const log = path.join(tmpDir(t), 'log.jsonl');
  const r = startLsptap(t, ['--bpf=off', '--log', log], [process.execPath, lspServer]);
  const conn = connect(r.child);
  assert.deepEqual(await conn.sendRequest('test/echo', { hello: 1 }), { hello: 1 });
  await waitFor(() => fs.existsSync(log) && readLog(log).some((l) => l.msg === 'session start'), 10_000, 'session start in the log');
  const serverPid = readLog(log).find((l) => l.msg === 'session start')!.serverPid as number;
  const server = taskStat(`/proc/${serverPid}/stat`);
  const tasks = `/proc/${r.child.pid}/task`;
  const analysis = fs.readdirSync(tasks).map((tid) => taskStat(path.join(tasks, tid, 'stat'))).filter((s) => s.nice === 10);
  assert.ok(analysis.length > 0, 'a thread of lsptap runs at nice 10');
  for (const a of analysis) assert.ok(a.startTicks >= server.startTicks, `analysis thread started at tick ${a.startTicks}, the server at ${server.startTicks}`);
  await conn.sendRequest('shutdown');
  await conn.sendNotification('exit');
  assert.deepEqual(await r.exited, { code: 0, signal: null });
});
