// Where the log goes and what it holds: per-session files under the XDG state directory,
// explicit paths, stderr, and bodies only on request.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { connect, lspServer, messages, readLog, sessionLogs, startLsptap, tmpDir, collect, type LogLine } from './helpers/index';

async function shortSession(t: Parameters<typeof tmpDir>[0], args: string[], env: NodeJS.ProcessEnv = process.env) {
  const r = startLsptap(t, args, [process.execPath, lspServer], { env });
  const out = collect(r.child.stdout!);
  const conn = connect(r.child);
  await conn.sendRequest('test/echo', { secret: 'func main() {}' });
  await conn.sendRequest('shutdown');
  await conn.sendNotification('exit');
  const exit = await r.exited;
  return { exit, stderr: r.stderr(), stdout: await out };
}

test('by default writes a new 0600 file per session under $XDG_STATE_HOME/lsptap, created 0700', async (t) => {
  const state = tmpDir(t);
  const { exit } = await shortSession(t, [], { ...process.env, XDG_STATE_HOME: state, LSPTAP_LOG_DIR: '' });
  assert.equal(exit.code, 0);
  const dir = path.join(state, 'lsptap');
  assert.equal(fs.statSync(dir).mode & 0o777, 0o700);
  const files = sessionLogs(dir);
  assert.equal(files.length, 1);
  assert.match(files[0], /^lsptap-\d{8}T\d{6}-\d{3}-\d+\.jsonl$/);
  assert.equal(fs.statSync(path.join(dir, files[0])).mode & 0o777, 0o600);
  const lines = readLog(path.join(dir, files[0]));
  assert.equal(lines[0].msg, 'session start');
  assert.equal(lines[0].logPath, path.join(dir, files[0]));
});

test('falls back to ~/.local/state/lsptap without XDG_STATE_HOME, and LSPTAP_LOG_DIR and --log-dir override it', async (t) => {
  const home = tmpDir(t);
  const env = { ...process.env, HOME: home, XDG_STATE_HOME: '', LSPTAP_LOG_DIR: '' };
  await shortSession(t, [], env);
  assert.equal(sessionLogs(path.join(home, '.local', 'state', 'lsptap')).length, 1);
  const viaEnv = path.join(home, 'env-dir');
  await shortSession(t, [], { ...env, LSPTAP_LOG_DIR: viaEnv });
  assert.equal(sessionLogs(viaEnv).length, 1);
  const viaFlag = path.join(home, 'flag-dir');
  await shortSession(t, ['--log-dir', viaFlag], { ...env, LSPTAP_LOG_DIR: viaEnv });
  assert.equal(sessionLogs(viaFlag).length, 1);
  assert.equal(sessionLogs(viaEnv).length, 1);
});

test('--log - writes the log to stderr and nothing but the server bytes to stdout', async (t) => {
  const { exit, stderr, stdout } = await shortSession(t, ['--log', '-']);
  assert.equal(exit.code, 0);
  const lines = stderr.split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as LogLine);
  assert.equal(lines[0].msg, 'session start');
  assert.equal(lines.at(-1)!.msg, 'session end');
  assert.equal(stdout.toString('latin1').split('Content-Length:').length - 1, messages(lines).filter((m) => m.dir === 's2c').length);
  assert.ok(!stdout.includes('"msg"'), 'no log line on stdout');
});

test('does not log bodies by default, and logs them with --bodies', async (t) => {
  const dir = tmpDir(t);
  await shortSession(t, ['--log', path.join(dir, 'a.jsonl')]);
  assert.ok(!fs.readFileSync(path.join(dir, 'a.jsonl'), 'utf8').includes('func main'));
  await shortSession(t, ['--log', path.join(dir, 'b.jsonl'), '--bodies']);
  const req = messages(readLog(path.join(dir, 'b.jsonl'))).find((m) => m.method === 'test/echo' && m.kind === 'request')!;
  assert.equal(JSON.parse(String(req.body)).params.secret, 'func main() {}');
});

test('appends to an existing --log file and refuses a symlink', async (t) => {
  const dir = tmpDir(t);
  const log = path.join(dir, 'x.jsonl');
  await shortSession(t, ['--log', log]);
  await shortSession(t, ['--log', log]);
  assert.equal(readLog(log).filter((l) => l.msg === 'session start').length, 2);
  fs.symlinkSync(log, path.join(dir, 'link.jsonl'));
  const r = startLsptap(t, ['--log', path.join(dir, 'link.jsonl')], [process.execPath, lspServer]);
  assert.equal((await r.exited).code, 2);
  assert.match(r.stderr(), /refusing to log to .*link\.jsonl: it is a symbolic link/);
});

test('prints an aligned summary table to stderr with --summary', async (t) => {
  const { stderr } = await shortSession(t, ['--log', path.join(tmpDir(t), 'l.jsonl'), '--summary']);
  assert.match(stderr, /dir\s+method\s+count\s+p50 ms\s+p90 ms\s+p99 ms\s+max ms/);
  assert.match(stderr, /c2s\s+test\/echo\s+1\s/);
});

test('when the client vanishes, logs it, closes the server and exits with its code', async (t) => {
  const log = path.join(tmpDir(t), 'l.jsonl');
  const r = startLsptap(t, ['--log', log], [process.execPath, lspServer]);
  const conn = connect(r.child);
  await conn.sendRequest('test/echo', {});
  r.child.stdout!.destroy(); // the editor's read end goes away
  await conn.sendNotification('test/bigNotify', { bytes: 1 << 20 }); // the server answers into a closed pipe
  assert.equal((await r.exited).code, 0);
  const lines = readLog(log);
  assert.ok(lines.some((l) => l.level === 40 && String(l.msg).startsWith('client went away')), JSON.stringify(lines.map((l) => l.msg)));
  assert.equal(lines.at(-1)!.msg, 'session end');
});
