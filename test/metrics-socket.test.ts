// The --metrics unix socket is a file lsptap makes: created 0600 whatever the umask; at
// start it removes only a dead socket of its own user (left by a session that was
// SIGKILLed), never a live one, another user's or a file that is not a socket.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { LsptapMetrics, serveMetrics } from '../src/sinks/metrics';
import { tmpDir, waitFor } from './helpers/index';

const isRoot = process.getuid?.() === 0;

function listen(sock: string): Promise<net.Server> {
  return new Promise((resolve, reject) => {
    const s = net.createServer((c) => c.end());
    s.once('error', reject);
    s.listen(sock, () => resolve(s));
  });
}

/** A socket file nobody listens on: its process was SIGKILLed. */
async function deadSocket(sock: string): Promise<void> {
  const child = spawn(process.execPath, ['-e', `require('net').createServer().listen(${JSON.stringify(sock)}, () => console.log('up'))`], { stdio: ['ignore', 'pipe', 'inherit'] });
  await new Promise((r) => child.stdout.once('data', r));
  child.kill('SIGKILL');
  await new Promise((r) => child.once('exit', r));
  assert.ok(fs.lstatSync(sock).isSocket());
}

test('creates the metrics socket 0600 even under umask 000, and removes it on close', async (t) => {
  const sock = path.join(tmpDir(t), 'm.sock');
  const old = process.umask(0);
  let server;
  try { server = await serveMetrics(new LsptapMetrics(), { kind: 'unix', path: sock }); } finally { process.umask(old); }
  assert.equal(fs.statSync(sock).mode & 0o777, 0o600);
  await server.close();
  await waitFor(() => !fs.existsSync(sock), 2000, 'socket removed');
});

test('replaces a dead socket of its own user left by a killed session', async (t) => {
  const sock = path.join(tmpDir(t), 'm.sock');
  await deadSocket(sock);
  const server = await serveMetrics(new LsptapMetrics(), { kind: 'unix', path: sock });
  await server.close();
});

test('leaves a live socket at the path alone and says the address is in use', async (t) => {
  const sock = path.join(tmpDir(t), 'm.sock');
  const other = await listen(sock);
  t.after(() => other.close());
  await assert.rejects(serveMetrics(new LsptapMetrics(), { kind: 'unix', path: sock }), /cannot serve metrics on .*m\.sock: EADDRINUSE/);
  await new Promise<void>((resolve, reject) => { const c = net.connect(sock, () => { c.destroy(); resolve(); }); c.once('error', reject); });
});

test('never unlinks a regular file at the metrics path', async (t) => {
  const file = path.join(tmpDir(t), 'not-a-socket');
  fs.writeFileSync(file, 'keep me');
  await assert.rejects(serveMetrics(new LsptapMetrics(), { kind: 'unix', path: file }), /EADDRINUSE/);
  assert.equal(fs.readFileSync(file, 'utf8'), 'keep me');
});

test('never unlinks a dead socket that belongs to another user', isRoot ? {} : { skip: 'needs root to chown' }, async (t) => {
  const sock = path.join(tmpDir(t), 'm.sock');
  await deadSocket(sock);
  fs.lchownSync(sock, 65534, 65534);
  await assert.rejects(serveMetrics(new LsptapMetrics(), { kind: 'unix', path: sock }), /EADDRINUSE/);
  assert.equal(fs.lstatSync(sock).uid, 65534);
});
