// What lsptap writes and what it passes on: log files 0600 in 0700 directories whatever the
// umask, log paths that are someone else's or symlinks refused before the server starts, no
// message content in the log without --bodies, and the server's arguments and environment
// passed on unchanged with no shell in between.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { connect, fixtures, rawServer, readLog, sessionLogs, startLsptap, tmpDir, lspServer } from './helpers/index';

const dumpServer = path.join(fixtures, 'dump-server.js');
const isRoot = process.getuid?.() === 0;
const needRoot = isRoot ? {} : { skip: 'needs root to chown a file to another user' };
if (!isRoot && process.env.CI === 'true') throw new Error('security tests must run as root under CI');

/** Run lsptap over a server that exits when its stdin closes; resolves with the exit. */
async function runOnce(t: Parameters<typeof tmpDir>[0], lsptapArgs: string[], env: NodeJS.ProcessEnv, server: string[] = [process.execPath, rawServer]): Promise<{ code: number | null; stderr: string }> {
  const run = startLsptap(t, lsptapArgs, server, { env });
  run.child.stdin!.end();
  const exit = await run.exited;
  return { code: exit.code, stderr: run.stderr() };
}

function withUmask<T>(mask: number, f: () => Promise<T>): Promise<T> {
  const old = process.umask(mask);
  return f().finally(() => process.umask(old));
}

test('creates the log directory 0700 and the session log 0600 even under umask 000', async (t) => {
  const dir = tmpDir(t);
  const logDir = path.join(dir, 'state', 'lsptap');
  const { code } = await withUmask(0, () => runOnce(t, [], { ...process.env, LSPTAP_LOG_DIR: logDir }));
  assert.equal(code, 0);
  assert.equal(fs.statSync(logDir).mode & 0o777, 0o700);
  assert.equal(fs.statSync(path.join(dir, 'state')).mode & 0o777, 0o700);
  const files = sessionLogs(logDir);
  assert.equal(files.length, 1);
  assert.equal(fs.statSync(path.join(logDir, files[0])).mode & 0o777, 0o600);
});

test('creates a --log file 0600 even under umask 000', async (t) => {
  const file = path.join(tmpDir(t), 'session.jsonl');
  const { code } = await withUmask(0, () => runOnce(t, ['--log', file], process.env));
  assert.equal(code, 0);
  assert.equal(fs.statSync(file).mode & 0o777, 0o600);
});

test('refuses a --log file owned by another user before starting the server', needRoot, async (t) => {
  const dir = tmpDir(t);
  const file = path.join(dir, 'theirs.jsonl');
  fs.writeFileSync(file, '');
  fs.chownSync(file, 65534, 65534);
  const record = path.join(dir, 'server-started');
  const { code, stderr } = await runOnce(t, ['--log', file], { ...process.env, RECORD: record });
  assert.equal(code, 2);
  assert.match(stderr, /refusing to log to .*theirs\.jsonl: it belongs to uid 65534/);
  assert.equal(fs.readFileSync(file, 'utf8'), '');
  assert.equal(fs.existsSync(record), false, 'the server was started');
});

test('refuses a --log path that is a symbolic link, even to a file of ours', async (t) => {
  const dir = tmpDir(t);
  const target = path.join(dir, 'real.jsonl');
  fs.writeFileSync(target, '');
  const link = path.join(dir, 'link.jsonl');
  fs.symlinkSync(target, link);
  const { code, stderr } = await runOnce(t, ['--log', link], process.env);
  assert.equal(code, 2);
  assert.match(stderr, /it is a symbolic link/);
  assert.equal(fs.readFileSync(target, 'utf8'), '');
});

test('refuses a --log path that is a FIFO at once instead of waiting for a reader', { timeout: 10_000 }, async (t) => {
  const fifo = path.join(tmpDir(t), 'log.fifo');
  execFileSync('mkfifo', [fifo]);
  const started = Date.now();
  const { code, stderr } = await runOnce(t, ['--log', fifo], process.env);
  assert.equal(code, 2);
  assert.match(stderr, /refusing to log to .*log\.fifo: not a regular file/);
  assert.ok(Date.now() - started < 5000);
});

test('logs no message content without --bodies, and the bodies with it', async (t) => {
  const dir = tmpDir(t);
  for (const bodies of [false, true]) {
    const file = path.join(dir, `bodies-${bodies}.jsonl`);
    const run = startLsptap(t, ['--log', file, ...(bodies ? ['--bodies'] : [])], [process.execPath, lspServer]);
    const conn = connect(run.child);
    await conn.sendRequest('initialize', { capabilities: {} });
    await conn.sendRequest('test/echo', { text: 'package main // SECRET-7f3a' });
    await conn.sendRequest('shutdown');
    await conn.sendNotification('exit');
    await run.exited;
    conn.dispose();
    const text = fs.readFileSync(file, 'utf8');
    assert.equal(text.includes('SECRET-7f3a'), bodies, `--bodies ${bodies}`);
    assert.equal(readLog(file).some((l) => 'body' in l), bodies);
  }
});

test('passes arguments with spaces, quotes, $(), backticks and newlines, and the environment, unchanged and without a shell', async (t) => {
  const dir = tmpDir(t);
  const dump = path.join(dir, 'dump.json');
  const marker = path.join(dir, 'PWNED');
  const args = ['a b', '"double"', "'single'", `$(touch ${marker})`, `\`touch ${marker}\``, 'line1\nline2', '', '*', '; touch x', '\\', 'ünïcødé', '$HOME', '--', '--log', '-'];
  const env: NodeJS.ProcessEnv = { ...process.env, DUMP: dump, LSPTAP_TEST_VALUE: `x $(touch ${marker}) \`y\`\nsecond line`, EMPTY_VALUE: '' };
  const { code } = await runOnce(t, ['--log', path.join(dir, 'log.jsonl')], env, [process.execPath, dumpServer, ...args]);
  assert.equal(code, 0);
  const seen = JSON.parse(fs.readFileSync(dump, 'utf8')) as { argv: string[]; env: Record<string, string> };
  assert.deepEqual(seen.argv, args);
  assert.deepEqual(seen.env, env);
  assert.equal(fs.existsSync(marker), false, 'a shell ran $() or backticks');
});
