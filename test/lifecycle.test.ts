// Process lifetime: lsptap exits with the server's code, handles client EOF and signals,
// and never loses a log line on the way out.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { connect, lspServer, messages, readLog, startLsptap, tmpDir, waitFor } from './helpers/index';

function lsptap(t: Parameters<typeof tmpDir>[0], env: Record<string, string> = {}, extra: string[] = []) {
  const log = path.join(tmpDir(t), 'log.jsonl');
  const run = startLsptap(t, ['--log', log, ...extra], [process.execPath, lspServer], { env: { ...process.env, ...env } });
  return { ...run, log };
}

test('exits 0 after shutdown and exit, with a session end line', async (t) => {
  const r = lsptap(t);
  const conn = connect(r.child);
  await conn.sendRequest('initialize', {});
  await conn.sendRequest('shutdown');
  await conn.sendNotification('exit');
  assert.deepEqual(await r.exited, { code: 0, signal: null });
  const end = readLog(r.log).at(-1)!;
  assert.equal(end.msg, 'session end');
  assert.equal(end.exitCode, 0);
});

test('passes through the server exit code 3', async (t) => {
  const r = lsptap(t, { EXIT_CODE: '3' });
  const conn = connect(r.child);
  await conn.sendRequest('shutdown');
  await conn.sendNotification('exit');
  assert.equal((await r.exited).code, 3);
  assert.equal(readLog(r.log).at(-1)!.exitCode, 3);
});

test('exits 128+9 when the server is killed by SIGKILL mid-session, logging every message first', async (t) => {
  const r = lsptap(t);
  const conn = connect(r.child);
  conn.onError(() => {});
  for (let i = 0; i < 20; i++) await conn.sendRequest('test/echo', { i });
  void conn.sendRequest('test/signal', { signal: 'SIGKILL' }).catch(() => {});
  assert.equal((await r.exited).code, 137);
  const lines = readLog(r.log);
  const msgs = messages(lines);
  assert.equal(msgs.filter((m) => m.method === 'test/echo' && m.kind === 'response').length, 20);
  assert.equal(msgs.filter((m) => m.method === 'test/signal').length, 1, 'the fatal request is logged');
  const end = lines.at(-1)!;
  assert.equal(end.msg, 'session end');
  assert.equal(end.signal, 'SIGKILL');
  assert.equal(end.lsptapExitCode, 137);
  assert.equal(end.unansweredCount, 1);
  assert.deepEqual((end.unanswered as Array<{ method: string }>).map((u) => u.method), ['test/signal']);
});

test('passes through an exit code chosen by a server that dies mid-session', async (t) => {
  const r = lsptap(t);
  const conn = connect(r.child);
  conn.onError(() => {});
  void conn.sendRequest('test/die', { code: 42 }).catch(() => {});
  assert.equal((await r.exited).code, 42);
});

test('on client EOF closes the server stdin and exits with the server code', async (t) => {
  const r = lsptap(t, { EOF_CODE: '5' });
  const conn = connect(r.child);
  await conn.sendRequest('test/echo', { a: 1 });
  r.child.stdin!.end();
  assert.equal((await r.exited).code, 5);
  const end = readLog(r.log).at(-1)!;
  assert.equal(end.reason, 'client closed its end');
});

test('on client EOF escalates to SIGTERM and then SIGKILL when the server will not go', { timeout: 20_000 }, async (t) => {
  const r = lsptap(t, { IGNORE_EOF: '1', TRAP_TERM: '1' }, ['--grace-ms', '300']);
  const conn = connect(r.child);
  await conn.sendRequest('test/echo', {});
  r.child.stdin!.end();
  assert.equal((await r.exited).code, 137);
  const lines = readLog(r.log);
  assert.ok(lines.some((l) => l.msg === 'server still running; sending SIGTERM'));
  assert.ok(lines.some((l) => l.msg === 'server still running; sending SIGKILL'));
});

test('forwards SIGTERM to the server and exits 143 with the log complete', async (t) => {
  const r = lsptap(t);
  const conn = connect(r.child);
  conn.onError(() => {});
  for (let i = 0; i < 5; i++) await conn.sendRequest('test/echo', { i });
  r.child.kill('SIGTERM');
  assert.equal((await r.exited).code, 143);
  const lines = readLog(r.log);
  assert.ok(lines.some((l) => l.msg === 'signal forwarded' && l.signal === 'SIGTERM'));
  assert.equal(messages(lines).length, 10);
  assert.equal(lines.at(-1)!.signal, 'SIGTERM');
});

test('writes the summary line as soon as the client sends exit, before an editor can SIGKILL', async (t) => {
  const r = lsptap(t, { IGNORE_EOF: '1' });
  const conn = connect(r.child);
  await conn.sendRequest('test/echo', {});
  // A server that does not exit on `exit`: the summary must already be on disk.
  await conn.sendNotification('test/ignored');
  await conn.sendNotification('exit');
  await waitFor(() => fs.existsSync(r.log) && fs.readFileSync(r.log, 'utf8').includes('"msg":"summary"'), 5000, 'summary line');
  r.child.kill('SIGKILL');
  await r.exited;
  const lines = readLog(r.log);
  const summary = lines.find((l) => l.msg === 'summary')!;
  assert.equal(summary.trigger, 'exit notification');
  assert.ok((summary.summary as Array<{ method: string }>).some((row) => row.method === 'test/echo'));
});

test('every message line reaches the log file without waiting for exit', async (t) => {
  const r = lsptap(t, { IGNORE_EOF: '1' });
  const conn = connect(r.child);
  for (let i = 0; i < 50; i++) await conn.sendRequest('test/echo', { i });
  await waitFor(() => fs.existsSync(r.log) && messages(readLog(r.log)).length === 100, 5000, '100 message lines');
  r.child.kill('SIGKILL');
});

test('pairs server-to-client requests and reports requests never answered', async (t) => {
  const r = lsptap(t);
  const conn = connect(r.child);
  conn.onRequest('workspace/configuration', () => [{ x: 1 }]);
  assert.deepEqual(await conn.sendRequest('test/ask'), { got: [{ x: 1 }] });
  void conn.sendRequest('test/noAnswer');
  await conn.sendRequest('test/echo', {});
  await conn.sendNotification('$/cancelRequest', { id: 1 });
  await conn.sendRequest('test/echo', {});
  r.child.stdin!.end();
  await r.exited;
  const lines = readLog(r.log);
  const msgs = messages(lines);
  const cfg = msgs.filter((m) => m.method === 'workspace/configuration');
  assert.deepEqual(cfg.map((m) => [m.dir, m.kind]), [['s2c', 'request'], ['c2s', 'response']]);
  assert.equal(msgs.find((m) => m.method === '$/cancelRequest')!.cancelsId, 1);
  const end = lines.at(-1)!;
  assert.deepEqual((end.unanswered as Array<{ method: string; cancelled: boolean; dir: string }>).map((u) => [u.dir, u.method, u.cancelled]), [['c2s', 'test/noAnswer', true]]);
});

test('marks error responses with isError', async (t) => {
  const r = lsptap(t);
  const conn = connect(r.child);
  await assert.rejects(conn.sendRequest('test/fail'));
  r.child.stdin!.end();
  await r.exited;
  const resp = messages(readLog(r.log)).find((m) => m.kind === 'response')!;
  assert.equal(resp.method, 'test/fail');
  assert.equal(resp.isError, true);
});

test('starting a command that does not exist prints one sentence and exits 127', async (t) => {
  const r = startLsptap(t, ['--log', path.join(tmpDir(t), 'l.jsonl')], ['/nonexistent/server-binary']);
  assert.equal((await r.exited).code, 127);
  assert.match(r.stderr(), /^lsptap: cannot start "\/nonexistent\/server-binary": not found/);
});

test('refuses a bad option with a usage error and exit 2', async (t) => {
  const r = startLsptap(t, ['--no-such-flag'], ['true']);
  assert.equal((await r.exited).code, 2);
  assert.match(r.stderr(), /^lsptap: unknown option --no-such-flag\n\nusage: lsptap /);
});
